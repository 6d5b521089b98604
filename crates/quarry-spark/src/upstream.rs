//! The one place quarry-spark reads other programs' wording: Spark's
//! error messages (a cancelled operation, the SQLSTATE line), spark-class's
//! `Spark Command:` launch line, and the Kubernetes API server's quota
//! refusal as Spark logs it.
//!
//! These come from a running JVM or API server, so the tests that make
//! them real are end-to-end: `tests/test_spark.py` interrupts a running
//! `%%spark` query (cancellation) and runs failing Spark SQL (SQLSTATE)
//! against a real Spark Connect server, whose log also carries the launch
//! line the class archive reads; `tests/test_spark_cluster.py` fills a
//! namespace's quota on the fake API server, which answers with
//! Kubernetes' own text. The unit tests below pin the shapes those runs
//! produced.

/// Whether Spark says the operation was cancelled (by our interrupt).
pub(crate) fn is_cancellation(message: &str) -> bool {
    message.contains("OPERATION_CANCELED")
        || (message.contains("cancelled") && message.contains("tag"))
}

/// The `SQLSTATE: …` line of a Spark error, when its first line lacks it.
pub(crate) fn sql_state(message: &str) -> Option<&str> {
    let first = message.lines().next().unwrap_or_default();
    if first.contains("SQLSTATE") {
        return None;
    }
    let at = message.find("SQLSTATE: ")?;
    Some(
        message[at..]
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .trim_end_matches(';'),
    )
}

/// The command spark-class printed (`SPARK_PRINT_LAUNCH_COMMAND=1`).
pub(crate) fn launch_line(log: &str) -> Option<&str> {
    log.lines()
        .take(50)
        .find_map(|line| line.strip_prefix("Spark Command: "))
}

/// The API server's "exceeded quota: …" detail in a Spark log line,
/// without the JSON and quoting around it.
pub(crate) fn exceeded_quota(log: &str) -> Option<&str> {
    let line = log.lines().rev().find(|l| l.contains("exceeded quota"))?;
    let detail = &line[line.find("exceeded quota")?..];
    let detail = detail.split(['"', '\'']).next().unwrap_or(detail);
    Some(
        detail
            .split(". ")
            .next()
            .unwrap_or(detail)
            .trim()
            .trim_end_matches([',', '.', '}']),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparks_shapes_as_the_end_to_end_runs_saw_them() {
        assert!(is_cancellation(
            "[OPERATION_CANCELED] Operation has been cancelled. SQLSTATE: HY008"
        ));
        assert!(!is_cancellation("[DIVIDE_BY_ZERO] Division by zero."));
        assert_eq!(
            sql_state("[DIVIDE_BY_ZERO] Division by zero.\nhint\nSQLSTATE: 22012;"),
            Some("SQLSTATE: 22012")
        );
        assert_eq!(
            launch_line("x\nSpark Command: /usr/bin/java -cp a:b org.X\n"),
            Some("/usr/bin/java -cp a:b org.X")
        );
        assert_eq!(
            exceeded_quota(
                r#"Failure executing: POST … message="pods \"x\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=4, limited: pods=4. Received status""#
            ),
            Some("exceeded quota: q, requested: pods=1, used: pods=4, limited: pods=4")
        );
    }
}
