//! `%profile`: every column of a table, an S3 object or a query, with the
//! Parquet footers' statistics first when there are any.

use jupyter_protocol::{Media, MediaType};
use quarry_sql::{ParquetFooters, human_bytes};
use quarry_viz::Profile;

use super::{AbortOnDrop, LastQuery, draw_error, spark_query};
use crate::cells::{QuarryHandler, display};
use crate::protocol::{ExecuteError, Outputs};

/// What `%profile` was pointed at.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    /// `(SELECT …)` or a table name.
    Query(String),
    /// `'s3://…'` (or any URL SQL reads).
    Url(String),
}

fn usage(message: impl Into<String>) -> ExecuteError {
    ExecuteError::new("UsageError", message)
}

/// `--footer`, then the target (or nothing: the cell's query or the last result).
fn parse(args: &str) -> Result<(bool, Option<Target>), ExecuteError> {
    let mut rest = args.trim();
    let footer_only = rest.contains("--footer");
    rest = rest
        .strip_suffix("--footer")
        .or_else(|| rest.strip_prefix("--footer"))
        .unwrap_or(rest)
        .trim();
    if rest.is_empty() {
        return Ok((footer_only, None));
    }
    let target = if let Some(inner) = rest.strip_prefix('(') {
        let inner = inner
            .strip_suffix(')')
            .ok_or_else(|| usage("%profile (SELECT …) is missing its closing parenthesis."))?;
        Target::Query(inner.trim().to_string())
    } else if let Some(inner) = rest.strip_prefix('\'') {
        Target::Url(
            inner
                .strip_suffix('\'')
                .ok_or_else(|| usage("The quoted URL after %profile is never closed."))?
                .to_string(),
        )
    } else if rest.contains("://") {
        Target::Url(rest.to_string())
    } else if rest.split_whitespace().count() == 1 {
        Target::Query(format!("SELECT * FROM {rest}"))
    } else {
        return Err(usage(format!(
            "%profile takes a table, a quoted URL or a (SELECT …), not '{rest}'."
        )));
    };
    Ok((footer_only, Some(target)))
}

impl QuarryHandler {
    /// `%profile ARGS`, over its target, the cell's `sql` or the last result.
    pub(in crate::cells) async fn profile_sql(
        &self,
        args: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let (footer_only, target) = parse(args)?;
        if target.is_some() && !sql.trim().is_empty() {
            return Err(usage(
                "%profile with a target profiles that target: move the query into %profile (SELECT …), or drop the target to profile the query below.",
            ));
        }
        let source = match target {
            Some(Target::Url(url)) => {
                let found = self.show_footers(&url, outputs).await?;
                if footer_only {
                    return if found {
                        Ok(())
                    } else {
                        Err(usage(format!(
                            "{url} holds no Parquet files, so it has no footers to show."
                        )))
                    };
                }
                LastQuery::Sql(format!("SELECT * FROM '{}'", url.replace('\'', "''")))
            }
            _ if footer_only => {
                return Err(usage(
                    "--footer needs a Parquet URL: %profile 's3://bucket/folder/' --footer.",
                ));
            }
            Some(Target::Query(query)) => LastQuery::Sql(query),
            None => self.source("%profile", sql, outputs).await?,
        };
        self.profile(source, outputs).await
    }

    /// `%profile` above `%%spark`: the Spark query, profiled in Spark.
    pub(in crate::cells) async fn profile_spark(
        &self,
        args: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        if !args.trim().is_empty() {
            return Err(usage(
                "%profile above %%spark profiles the Spark query below, so it takes no target.",
            ));
        }
        self.profile(spark_query(body)?, outputs).await
    }

    async fn profile(&self, source: LastQuery, outputs: &Outputs) -> Result<(), ExecuteError> {
        let engine = self.engine_for(&source)?;
        let sql = source.sql().to_string();
        let work = async { quarry_viz::profile(&engine, &sql).await.map_err(draw_error) };
        let profile = self
            .with_status("Profiling every row", outputs, work)
            .await?;
        outputs.result(profile_media(&profile));
        if let Some(spec) = profile.histograms() {
            let text = format!(
                "Histograms of {} columns over {} rows.",
                spec["concat"].as_array().map_or(0, Vec::len),
                profile.rows
            );
            outputs.display(
                Media {
                    content: vec![MediaType::Plain(text), MediaType::VegaLiteV5(spec)],
                },
                None,
            );
        }
        self.remember_query(source);
        Ok(())
    }

    /// Shows what the Parquet footers under `url` say; `false` when there
    /// are no Parquet files.
    async fn show_footers(&self, url: &str, outputs: &Outputs) -> Result<bool, ExecuteError> {
        let (session, owned) = (self.session.clone(), url.to_string());
        let task = AbortOnDrop(
            self.executor
                .spawn(async move { session.parquet_footers(&owned).await }),
        );
        let work = async {
            let joined = task.await.map_err(|_| {
                ExecuteError::new(
                    "InternalError",
                    "Reading the Parquet footers stopped unexpectedly.",
                )
            })?;
            joined.map_err(|e| ExecuteError::new(e.kind.ename(), e.message))
        };
        let Some(footers) = self
            .with_status("Reading Parquet footers", outputs, work)
            .await?
        else {
            return Ok(false);
        };
        outputs.display(display::markdown(&footer_table(url, &footers)), None);
        Ok(true)
    }
}

/// The profile as text, an HTML table and data (for tests and widgets;
/// JupyterLab shows the HTML).
fn profile_media(profile: &Profile) -> Media {
    let mut content = vec![
        MediaType::Plain(profile.plain()),
        MediaType::Html(profile.html()),
    ];
    if let Ok(data) = serde_json::to_value(profile) {
        content.push(MediaType::Other((quarry_viz::PROFILE_MIME.into(), data)));
    }
    Media { content }
}

fn footer_table(url: &str, footers: &ParquetFooters) -> String {
    let mut text = format!(
        "**Parquet footers of {url}** (read before any data): {} file{} · {} row groups · {} rows · {}\n\n| column | type | nulls | min | max | compressed |\n|---|---|---|---|---|---|\n",
        footers.files,
        if footers.files == 1 { "" } else { "s" },
        quarry_sql::group_thousands(footers.row_groups as u64),
        quarry_sql::group_thousands(footers.rows),
        human_bytes(footers.bytes),
    );
    let cell = |v: &Option<String>| v.as_deref().unwrap_or("–").replace('|', "\\|");
    for column in &footers.columns {
        text.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            column.name.replace('|', "\\|"),
            column.data_type,
            column.nulls.map_or("–".into(), quarry_sql::group_thousands),
            cell(&column.min),
            cell(&column.max),
            human_bytes(column.compressed_bytes),
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_tables_urls_or_queries() {
        assert_eq!(parse("").unwrap(), (false, None));
        assert_eq!(
            parse("readings").unwrap(),
            (false, Some(Target::Query("SELECT * FROM readings".into())))
        );
        assert_eq!(
            parse("'s3://b/k/' --footer").unwrap(),
            (true, Some(Target::Url("s3://b/k/".into())))
        );
        assert_eq!(
            parse("(SELECT 1 AS one)").unwrap(),
            (false, Some(Target::Query("SELECT 1 AS one".into())))
        );
        assert!(
            parse("(SELECT 1")
                .unwrap_err()
                .evalue
                .contains("closing parenthesis")
        );
        assert!(parse("a b").unwrap_err().evalue.contains("takes a table"));
    }
}
