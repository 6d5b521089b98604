//! The one place quarry-sql reads DataFusion's wording.
//!
//! DataFusion reports some failures only as text: a missing table is a
//! `Plan` error whose message names it, layers add labels such as "Error
//! during planning: ", and a memory refusal's detail names the operator
//! after " for ". Every such match lives here, and each has a test below
//! that makes real DataFusion fail and reads its real message, so an
//! upgrade that rewords one fails a unit test instead of giving users a
//! worse sentence. (Errors that carry types — `ResourcesExhausted`,
//! `SchemaError::FieldNotFound`, object_store's variants, Arrow's and
//! Parquet's errors — are matched by type in `error`.)

/// The labels DataFusion's error layers put before the message.
const LAYER_LABELS: [&str; 13] = [
    "Error during planning: ",
    "Io error: ",
    "Schema error: ",
    "Arrow error: ",
    "External error: ",
    "Execution error: ",
    "This feature is not implemented: ",
    "Invalid argument error: ",
    "Internal error: ",
    "sql parser error: ",
    "SQL error: ",
    "ParserError(\"",
    "Optimizer rule ",
];

/// The first line of an error's text (DataFusion appends backtraces and
/// hints on later lines).
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

/// Drops DataFusion's layer labels ("Error during planning: ", …) and any
/// backtrace, keeping the part that names the problem.
pub(crate) fn without_layer_labels(message: &str) -> String {
    let mut text = first_line(message).to_string();
    loop {
        let before = text.len();
        for label in LAYER_LABELS {
            if let Some(rest) = text.strip_prefix(label) {
                text = rest.to_string();
            }
        }
        if text.len() == before {
            break;
        }
    }
    text.trim_end_matches("\")").to_string()
}

/// The table a `Plan` error says is missing: "table
/// 'datafusion.public.readings' not found" gives `datafusion.public.readings`.
pub(crate) fn missing_table(plan_message: &str) -> Option<&str> {
    let rest = first_line(plan_message).strip_prefix("table '")?;
    rest.split_once("' not found").map(|(name, _)| name)
}

/// What a memory refusal could not get, without the operator's internal
/// name. DataFusion's detail starts "Additional allocation failed for
/// FinalHashAggregateStream[0] with top memory consumers …" and names the
/// amount further down ("Error: Failed to allocate additional 128.0 KB
/// for …"): that gives "Failed to allocate additional 128.0 KB".
pub(crate) fn refused_allocation(detail: &str) -> &str {
    let line = detail
        .lines()
        .find_map(|line| line.find("Failed to allocate").map(|at| &line[at..]))
        .unwrap_or_else(|| first_line(detail));
    line.split(" for ")
        .next()
        .unwrap_or("allocation failed")
        .trim()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::error::DataFusionError;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    async fn real_error(ctx: &SessionContext, sql: &str) -> DataFusionError {
        match ctx.sql(sql).await {
            Err(e) => e,
            Ok(frame) => frame.collect().await.expect_err("the statement must fail"),
        }
    }

    #[tokio::test]
    async fn a_missing_table_is_read_from_datafusions_plan_error() {
        let error = real_error(&SessionContext::new(), "SELECT * FROM readings").await;
        let DataFusionError::Plan(message) = error.find_root() else {
            panic!("DataFusion now reports a missing table as {error:?}");
        };
        // Qualified: the caller shows the last part.
        assert_eq!(missing_table(message), Some("datafusion.public.readings"));
        assert_eq!(missing_table("table 'x' is something else"), None);
    }

    #[tokio::test]
    async fn layer_labels_and_backtraces_come_off_real_messages() {
        let ctx = SessionContext::new();
        for sql in [
            "SELECT no_such_function(1)",
            "SELEKT 1",
            "SELECT 1 + 'a'::INT",
            "SELECT CAST('x' AS INT)",
        ] {
            let shown = without_layer_labels(&real_error(&ctx, sql).await.to_string());
            assert!(
                !LAYER_LABELS.iter().any(|label| shown.starts_with(label)) && !shown.contains('\n'),
                "{sql}: {shown}"
            );
            assert!(shown.len() > 10, "{sql}: {shown}");
        }
    }

    #[tokio::test]
    async fn a_memory_refusal_names_what_it_could_not_allocate() {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(64 * 1024, 1.0)
            .build_arc()
            .expect("a runtime");
        let ctx = SessionContext::new_with_config_rt(SessionConfig::new(), Arc::clone(&runtime));
        let error = real_error(
            &ctx,
            "SELECT v, count(*) FROM (SELECT value % 100000 AS v FROM generate_series(1, 1000000)) GROUP BY v ORDER BY v",
        )
        .await;
        let DataFusionError::ResourcesExhausted(detail) = error.find_root() else {
            panic!("DataFusion no longer refuses memory as ResourcesExhausted: {error:?}");
        };
        let what = refused_allocation(detail);
        assert!(
            what.starts_with("Failed to allocate additional "),
            "{detail}"
        );
        assert!(what.ends_with('B') && !what.contains(" for "), "{what}");
    }
}
