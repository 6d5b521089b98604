//! `%profile`: every column of a table, an S3 object or a query, with the
//! Parquet footers' statistics first when there are any.

use jupyter_protocol::{Media, MediaType};
use quarry_sql::lakehouse::ParquetFooters;
use quarry_text::markup::{Cell, HtmlTable};
use quarry_text::numbers::human_bytes;
use quarry_viz::Profile;

use super::{AbortOnDrop, LastQuery, draw_error, spark_query};
use crate::protocol::{ExecuteError, Outputs};
use crate::{QuarryHandler, display};

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
    pub(crate) async fn profile_sql(
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
    pub(crate) async fn profile_spark(
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
        outputs.display(footer_media(url, &footers), None);
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

/// The footers' summary as text and an HTML table: column names and
/// statistics are data, so they are escaped, never Markdown.
fn footer_media(url: &str, footers: &ParquetFooters) -> Media {
    let summary = format!(
        "Parquet footers of {url} (read before any data): {} · {} · {} · {}",
        count(footers.files as u64, "file"),
        count(footers.row_groups as u64, "row group"),
        count(footers.rows, "row"),
        human_bytes(footers.bytes),
    );
    let mut table = HtmlTable::new([
        ("column", Cell::Code),
        ("type", Cell::Text),
        ("nulls", Cell::Number),
        ("min", Cell::Text),
        ("max", Cell::Text),
        ("compressed", Cell::Number),
    ])
    .caption(summary.clone());
    let mut text = format!("{summary}\n");
    let cell = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    for column in &footers.columns {
        let row = [
            column.name.clone(),
            column.data_type.clone(),
            column
                .nulls
                .map_or("–".into(), quarry_text::numbers::group_thousands),
            cell(&column.min),
            cell(&column.max),
            human_bytes(column.compressed_bytes),
        ];
        text.push_str(&format!("  {}\n", row.join("  ")));
        table.row(row);
    }
    display::text_and_html(&text, table.to_html())
}

/// `1 row group`, `3 row groups`, `1,204 rows`.
fn count(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", quarry_text::numbers::group_thousands(n))
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
