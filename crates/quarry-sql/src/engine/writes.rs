//! Write statements (`COPY … TO`, `INSERT INTO`): their output appears only
//! when they succeed.
//!
//! While one runs, the session's S3 stores stage what DataFusion writes
//! (`quarry_s3::StagedWrites`); here the statement's outcome decides: on
//! success the writes are published, on failure they are discarded and
//! the error says that nothing was written, so a user never mistakes a
//! half-written file for a result.

use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;

/// Where a write statement's output goes, as the user named it; `None`
/// for statements that write nothing.
pub(crate) fn destination(plan: &LogicalPlan) -> Option<String> {
    match plan {
        LogicalPlan::Copy(copy) => Some(copy.output_url.clone()),
        LogicalPlan::Dml(dml) => Some(format!("table {}", dml.table_name)),
        _ => None,
    }
}

/// A write statement that failed; what it had written was discarded.
#[derive(Debug, thiserror::Error)]
#[error("{source}")]
pub(crate) struct Unpublished {
    /// Why the statement failed.
    #[source]
    pub(crate) source: DataFusionError,
    destination: String,
    /// Writes had begun (so there was something not to publish).
    began: bool,
    /// Some unfinished uploads could not be aborted yet (S3 is away);
    /// they are retried in the background.
    aborts_pending: bool,
}

impl Unpublished {
    /// What the user is told after the reason, when it is worth saying:
    /// the statement wrote to S3, or had begun to.
    pub(crate) fn note(&self) -> Option<String> {
        if !(self.destination.starts_with("s3://") || self.began) {
            return None;
        }
        let mut note = format!(
            "Nothing was written to {}: a statement's output appears only when the statement succeeds.",
            self.destination
        );
        if self.aborts_pending {
            note.push_str(" Its unfinished upload is aborted as soon as S3 answers again.");
        }
        Some(note)
    }
}

/// Runs a write to S3 with its output staged until it succeeds, then
/// published or dropped; listings of what was written are out of date
/// either way.
pub(crate) async fn run_staged<T>(
    session: &crate::SqlSession,
    destination: String,
    run: impl Future<Output = Result<T, DataFusionError>>,
) -> Result<T, DataFusionError> {
    let staged = session.s3().stage_writes();
    let outcome = run.await;
    let settled = settle(staged, outcome, destination).await;
    session.forget_listings();
    settled
}

/// Publishes the staged writes of a statement that succeeded, or discards
/// those of one that failed (the error then carries [`Unpublished`]).
pub(crate) async fn settle<T>(
    staged: quarry_s3::StagedWrites,
    outcome: Result<T, DataFusionError>,
    destination: String,
) -> Result<T, DataFusionError> {
    match outcome {
        Ok(value) => {
            staged
                .publish()
                .await
                .map_err(|e| DataFusionError::ObjectStore(Box::new(e)))?;
            Ok(value)
        }
        Err(source) => {
            let discarded = staged.discard().await;
            Err(DataFusionError::External(Box::new(Unpublished {
                source,
                destination,
                began: discarded.writes > 0,
                aborts_pending: discarded.aborts_pending > 0,
            })))
        }
    }
}

/// The statement's failure and the note to add, when `err` is a write
/// that was discarded.
pub(crate) fn unpublished(err: &DataFusionError) -> Option<(&DataFusionError, Option<String>)> {
    match err {
        DataFusionError::External(inner) => inner
            .downcast_ref::<Unpublished>()
            .map(|u| (&u.source, u.note())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(destination: &str, began: bool, aborts_pending: bool) -> Unpublished {
        Unpublished {
            source: DataFusionError::Execution("Divide by zero error".into()),
            destination: destination.into(),
            began,
            aborts_pending,
        }
    }

    #[test]
    fn the_note_names_the_destination_and_what_is_still_pending() {
        assert_eq!(
            failed("s3://data/out.parquet", false, false)
                .note()
                .unwrap(),
            "Nothing was written to s3://data/out.parquet: a statement's output appears only when the statement succeeds."
        );
        assert!(
            failed("s3://data/out/", true, true)
                .note()
                .unwrap()
                .ends_with("Its unfinished upload is aborted as soon as S3 answers again.")
        );
        // An INSERT into a table in memory had nothing staged: no note.
        assert_eq!(failed("table totals", false, false).note(), None);
        assert!(failed("table sales", true, false).note().is_some());
    }

    #[test]
    fn the_failure_is_found_under_the_wrapper() {
        let err = DataFusionError::External(Box::new(failed("s3://d/o.csv", false, false)));
        let (source, note) = unpublished(&err).unwrap();
        assert!(source.to_string().contains("Divide by zero"));
        assert!(note.is_some());
        assert!(unpublished(&DataFusionError::Execution("x".into())).is_none());
    }
}
