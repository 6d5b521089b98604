//! A Delta Lake table read as plain Parquet gives wrong answers.
//!
//! A Delta table's folder holds every Parquet file any version ever had;
//! its `_delta_log` says which are live. Reading the folder as Parquet
//! counts the rows a DELETE, an UPDATE or an overwrite removed, silently.
//! Until Quarry reads Delta logs, a statement that would read or define
//! such a folder as Parquet (or CSV, JSON) is refused in one sentence.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use futures::StreamExt;
use object_store::path::Path as StorePath;
use quarry_s3::S3Location;

use crate::SqlSession;

/// The S3 folders `plan` reads or defines a table over.
fn folders(plan: &LogicalPlan) -> Vec<String> {
    let mut found = Vec::new();
    if let LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create)) = plan {
        found.extend(create.locations.iter().cloned());
    }
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            found.push(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found.retain(|url| url.starts_with("s3://") && url.ends_with('/'));
    found.sort();
    found.dedup();
    found
}

/// Refuses `plan` when a folder it reads is a Delta table. One listing of
/// at most one key per folder; a folder S3 will not list is left to the
/// query itself to report.
pub(crate) async fn refuse_delta_folders(
    session: &SqlSession,
    plan: &LogicalPlan,
) -> Result<(), DataFusionError> {
    for url in folders(plan) {
        let Ok(location) = S3Location::parse(&url) else {
            continue;
        };
        let Ok(store) = session.s3().store(&location.bucket) else {
            continue;
        };
        let log = StorePath::from(format!("{}_delta_log/", location.key));
        if let Some(Ok(_)) = store.list(Some(&log)).next().await {
            return Err(DataFusionError::Plan(delta_refusal(&url)));
        }
    }
    Ok(())
}

fn delta_refusal(url: &str) -> String {
    format!(
        "The folder {url} is a Delta Lake table (it has a _delta_log folder): reading its files directly would count rows its log has deleted or replaced, so Quarry does not; Delta tables cannot be read yet"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::test_session;

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
        assert_eq!(folders(&plan), ["s3://data/delta/events/"]);
        let file = session
            .context()
            .state()
            .create_logical_plan(
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://data/one.parquet'",
            )
            .await
            .unwrap();
        assert!(folders(&file).is_empty());
        assert!(
            delta_refusal("s3://d/e/").starts_with("The folder s3://d/e/ is a Delta Lake table")
        );
    }
}
