//! `%export csv|parquet|json [s3://dest] [(SELECT …)]`: every row of a
//! result written to one S3 object, with a link that downloads it and the
//! SQL that reads it back.

use jupyter_protocol::{Media, MediaType};
use quarry_s3::S3Location;
use quarry_sql::notebook::ExportFormat;
use quarry_text::markup::escape_html;
use quarry_text::numbers::human_bytes;
use quarry_viz::Engine;
use serde_json::json;

use super::{AbortOnDrop, EngineError, LastQuery};
use crate::protocol::{ExecuteError, Outputs};
use crate::{Platform, QuarryHandler};

/// Where exports go when no destination is given and
/// `QUARRY_EXPORT_PREFIX` is not set; `{user}` becomes the user's name
/// (`JUPYTERHUB_USER`), used only when it is a valid bucket name.
const DEFAULT_PREFIX: &str = "s3://{user}/exports/";

fn s3_error(failure: quarry_s3::S3Failure) -> ExecuteError {
    let error = quarry_sql::SqlError::from_failure(failure);
    ExecuteError::new(error.kind.ename(), error.message)
}

fn usage(message: impl Into<String>) -> ExecuteError {
    ExecuteError::new("UsageError", message)
}

/// What `%export` was asked: the format, where to, and the query if inline.
#[derive(Debug, PartialEq, Eq)]
struct ExportArgs {
    format: ExportFormat,
    destination: Option<String>,
    query: Option<String>,
}

fn parse(args: &str) -> Result<ExportArgs, ExecuteError> {
    let args = args.trim();
    let (head, query) = match args.find('(') {
        Some(open) => {
            let inner = args[open + 1..].trim_end();
            let inner = inner
                .strip_suffix(')')
                .ok_or_else(|| usage("%export (SELECT …) is missing its closing parenthesis."))?;
            (&args[..open], Some(inner.trim().to_string()))
        }
        None => (args, None),
    };
    let mut words = head.split_whitespace();
    let format = words
        .next()
        .and_then(ExportFormat::from_name)
        .ok_or_else(|| {
            usage("%export needs a format first: %export csv, %export parquet or %export json.")
        })?;
    let destination = match (words.next(), words.next()) {
        (None, _) => None,
        (Some(url), None) if url.starts_with("s3://") => Some(url.trim_matches('\'').to_string()),
        (Some(word), _) => {
            return Err(usage(format!(
                "%export takes a format, an s3:// destination and a (SELECT …), not '{word}'."
            )));
        }
    };
    Ok(ExportArgs {
        format,
        destination,
        query,
    })
}

/// The object to write: `destination` as given, inside it when it ends
/// with `/`, or a new name under the export prefix: `QUARRY_EXPORT_PREFIX`
/// (`{user}` replaced), else `s3://USER/exports/` when the user's name is a
/// bucket name; otherwise one sentence saying how to choose.
fn object_url(
    destination: Option<&str>,
    format: ExportFormat,
    platform: &Platform,
) -> Result<String, ExecuteError> {
    let folder = match destination {
        Some(url) if !url.ends_with('/') => return Ok(url.to_string()),
        Some(url) => url.to_string(),
        None => default_folder(platform)?,
    };
    let folder = if folder.ends_with('/') {
        folder
    } else {
        format!("{folder}/")
    };
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    let unique = &uuid::Uuid::new_v4().simple().to_string()[..6];
    Ok(format!(
        "{folder}result-{stamp}-{unique}.{}",
        format.extension()
    ))
}

fn default_folder(platform: &Platform) -> Result<String, ExecuteError> {
    let user = platform.user();
    if let Some(prefix) = platform
        .export_prefix
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    {
        return Ok(prefix.trim().replace("{user}", user.unwrap_or("")));
    }
    match user {
        Some(user) if S3Location::parse(&format!("s3://{user}/")).is_ok() => {
            Ok(DEFAULT_PREFIX.replace("{user}", user))
        }
        _ => Err(usage(
            "%export needs a destination here: %export csv s3://bucket/folder/ (no export folder is configured, QUARRY_EXPORT_PREFIX, and your user name is not a bucket name).",
        )),
    }
}

impl QuarryHandler {
    /// `%export ARGS` over its inline query, the cell's `sql` or the last result.
    pub(crate) async fn export_sql(
        &self,
        args: &str,
        sql: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let args = parse(args)?;
        let source = match (&args.query, sql.trim().is_empty()) {
            (Some(_), false) => {
                return Err(usage(
                    "%export with a (SELECT …) exports that query: drop one of the two.",
                ));
            }
            (Some(query), true) => LastQuery::Sql(query.clone()),
            (None, _) => self.source("%export", sql, outputs).await?,
        };
        self.export(args, source, outputs).await
    }

    /// `%export ARGS` above `%%spark`: the Spark result, written by the kernel.
    pub(crate) async fn export_spark(
        &self,
        args: &str,
        body: &str,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let args = parse(args)?;
        let query = body.trim().trim_end_matches(';').trim();
        if query.is_empty() || args.query.is_some() {
            return Err(usage(
                "%export above %%spark exports the Spark query below it (and takes no (SELECT …)).",
            ));
        }
        self.export(args, LastQuery::Spark(query.to_string()), outputs)
            .await
    }

    async fn export(
        &self,
        args: ExportArgs,
        source: LastQuery,
        outputs: &Outputs,
    ) -> Result<(), ExecuteError> {
        let url = object_url(args.destination.as_deref(), args.format, &self.platform)?;
        let location = S3Location::parse(&url).map_err(|e| {
            // The reason is a sentence of its own: one full stop, not two.
            let reason = e.to_string();
            usage(format!(
                "{url} is not an S3 object URL: {}.",
                reason.trim_end_matches('.')
            ))
        })?;
        let work = async {
            let rows = self.write_export(&source, &url, args.format).await?;
            let s3 = self.session.s3();
            let info = quarry_s3::head_object(s3, &location)
                .await
                .map_err(s3_error)?;
            // Through the panel's backend, never a presigned URL: outputs
            // travel with notebooks, and a presigned URL carries a session
            // token that works for anyone for an hour. The backend checks
            // the clicker's own login and credentials at click time.
            let link = panel_link(&location, &self.platform);
            Ok((rows, info.size, link))
        };
        let (rows, size, link) = self
            .with_status("Exporting every row", outputs, work)
            .await?;
        outputs.result(export_media(&url, rows, size, &link));
        self.remember_query(source);
        Ok(())
    }

    /// Writes the result to `url`: a SQL query directly with `COPY`; a
    /// Spark result (already whole in the kernel) through a temporary table.
    async fn write_export(
        &self,
        source: &LastQuery,
        url: &str,
        format: ExportFormat,
    ) -> Result<u64, ExecuteError> {
        let sql_error = |e: quarry_sql::SqlError| ExecuteError::new(e.kind.ename(), e.message);
        let query = match source {
            LastQuery::Sql(query) => query.clone(),
            LastQuery::Spark(query) => {
                let engine = self.engine_for(source)?;
                let (schema, batches) = engine.query(query).await.map_err(|e| match e {
                    EngineError::Sql(e) => sql_error(e),
                    EngineError::Spark(e) => ExecuteError::new(e.ename(), e.to_string()),
                })?;
                let table = format!("quarry_export_{}", uuid::Uuid::new_v4().simple());
                self.session
                    .register_batches(&table, schema, batches)
                    .map_err(sql_error)?;
                format!("SELECT * FROM {table}")
            }
        };
        let (session, owned_url) = (self.session.clone(), url.to_string());
        let owned_query = query.clone();
        let task = AbortOnDrop(
            self.executor
                .spawn(async move { session.export(&owned_query, &owned_url, format).await }),
        );
        let written = task.await.map_err(|_| {
            ExecuteError::new(
                "InternalError",
                "The export stopped unexpectedly inside Quarry.",
            )
        });
        if let Some(table) = query.strip_prefix("SELECT * FROM quarry_export_") {
            self.session.drop_table(&format!("quarry_export_{table}"));
        }
        written?.map_err(sql_error)
    }
}

/// A download through the panel's backend (same origin as JupyterLab, so
/// it works without a public S3 endpoint).
fn panel_link(location: &S3Location, platform: &Platform) -> String {
    let prefix = platform.service_prefix();
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "{prefix}quarry/api/download?bucket={}&key={}",
        encode(&location.bucket),
        encode(&location.key)
    )
}

fn export_media(url: &str, rows: u64, size: u64, link: &str) -> Media {
    let rows_text = quarry_text::numbers::group_thousands(rows);
    let read_back = format!("SELECT * FROM '{url}'");
    // The URL is the user's, but it may name another tenant's key: text.
    let html = format!(
        "<p>Exported <strong>{rows_text} rows</strong> ({}) to <code>{}</code> · <a href=\"{}\" download>download</a></p><p>Read it back: <code>{}</code></p>",
        human_bytes(size),
        escape_html(url),
        escape_html(link),
        escape_html(&read_back),
    );
    let plain = format!(
        "Exported {rows_text} rows ({}) to {url}\nDownload: {link}\nRead it back: {read_back}\n",
        human_bytes(size)
    );
    Media {
        content: vec![
            MediaType::Plain(plain),
            MediaType::Html(html),
            MediaType::Other((
                "application/vnd.quarry.export+json".into(),
                json!({"url": url, "rows": rows, "bytes": size, "link": link, "read_back": read_back}),
            )),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_a_destination_and_a_query() {
        assert_eq!(
            parse("parquet s3://b/out.parquet (SELECT 1 AS one)").unwrap(),
            ExportArgs {
                format: ExportFormat::Parquet,
                destination: Some("s3://b/out.parquet".into()),
                query: Some("SELECT 1 AS one".into())
            }
        );
        assert_eq!(parse("CSV").unwrap().destination, None);
        assert!(
            parse("xlsx")
                .unwrap_err()
                .evalue
                .contains("needs a format first")
        );
        assert!(
            parse("csv somewhere")
                .unwrap_err()
                .evalue
                .contains("not 'somewhere'")
        );
    }

    #[test]
    fn exports_go_where_asked_or_under_the_users_prefix() {
        let none = &Platform::default();
        assert_eq!(
            object_url(Some("s3://b/x.csv"), ExportFormat::Csv, none).unwrap(),
            "s3://b/x.csv"
        );
        assert!(
            object_url(Some("s3://b/dir/"), ExportFormat::Json, none)
                .unwrap()
                .starts_with("s3://b/dir/result-")
        );
        let alice = Platform {
            hub_user: Some("alice".into()),
            export_prefix: Some("s3://scratch/{user}".into()),
            ..Platform::default()
        };
        let url = object_url(None, ExportFormat::Parquet, &alice).unwrap();
        assert!(
            url.starts_with("s3://scratch/alice/result-") && url.ends_with(".parquet"),
            "{url}"
        );
        let user = |who: &str| Platform {
            hub_user: Some(who.into()),
            ..Platform::default()
        };
        assert!(
            object_url(None, ExportFormat::Csv, &user("bob"))
                .unwrap()
                .starts_with("s3://bob/exports/")
        );
        // A user name that is no bucket name (quarry lab's "me" is one,
        // "Jane.Doe@corp" is not): one sentence, no guess.
        for name in ["Jane.Doe@corp", "a"] {
            let refused = object_url(None, ExportFormat::Csv, &user(name)).unwrap_err();
            assert_eq!(
                refused.evalue,
                "%export needs a destination here: %export csv s3://bucket/folder/ (no export folder is configured, QUARRY_EXPORT_PREFIX, and your user name is not a bucket name)."
            );
        }
        assert!(object_url(None, ExportFormat::Csv, none).is_err());
    }
}
