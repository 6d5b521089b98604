//! Finding out why a file named in a query could not be read.
//!
//! DataFusion resolves `FROM 's3://…'` through its dynamic URL catalog,
//! which turns every failure to open the file into "table not found" and
//! drops the reason. When that happens, Quarry asks S3 directly for the
//! URLs the statement names and reports S3's answer instead: access
//! denied, no such key, no such bucket, bad credentials.
//!
//! Writes lose their reason the same way: DataFusion reports a failed
//! `COPY … TO 's3://…'` as "Error encountered while finalizing writes",
//! dropping S3's answer, so the destination's bucket is asked directly.

use object_store::path::Path as StorePath;
use object_store::{ObjectStore as _, ObjectStoreExt as _};
use quarry_s3::{S3Location, TableFormat};

use crate::engine::SqlSession;
use crate::engine::error::{
    ErrorContext, ErrorKind, SqlError, from_store_error, not_found, s3_urls,
};

/// The first S3 URL in `statement` that cannot be read, explained.
pub(crate) async fn unreadable_url(
    session: &SqlSession,
    ctx: &ErrorContext<'_>,
) -> Option<SqlError> {
    for url in s3_urls(ctx.statement) {
        let Ok(location) = S3Location::parse(&url) else {
            continue;
        };
        let store = match session.s3().store(&location.bucket) {
            Ok(store) => store,
            Err(e) => return Some(SqlError::new(ErrorKind::Plan, e.to_string())),
        };
        let probe = if location.key.is_empty() || location.key.ends_with('/') {
            let prefix = StorePath::from(location.key.as_str());
            store.list_with_delimiter(Some(&prefix)).await.map(|_| ())
        } else {
            // A GET (not HEAD) so that S3 explains refusals in its body.
            store
                .get(&StorePath::from(location.key.as_str()))
                .await
                .map(|_| ())
        };
        match probe {
            Ok(()) => continue,
            Err(object_store::Error::NotFound { .. }) => {
                // Is it the key or the whole bucket that is missing?
                if let Err(e) = store.list_with_delimiter(None).await {
                    return Some(from_store_error(&e, ctx, Some(&url)));
                }
                return Some(not_found(&url));
            }
            Err(e) => return Some(from_store_error(&e, ctx, Some(&url))),
        }
    }
    None
}

/// Objects looked at to tell which formats a folder holds.
const FORMAT_PROBE: usize = 1000;

/// When a folder the statement reads holds files of several formats (the
/// Parquet reader then fails on a CSV file's "footer"): which formats, an
/// example of each, and how to point at one. Examples are file names
/// relative to the folder (a nested file's name alone).
pub(crate) async fn mixed_formats(
    session: &SqlSession,
    ctx: &ErrorContext<'_>,
) -> Option<SqlError> {
    use futures::StreamExt as _;

    for url in s3_urls(ctx.statement) {
        let Ok(location) = S3Location::parse(&url) else {
            continue;
        };
        if !(location.key.is_empty() || location.key.ends_with('/')) {
            continue;
        }
        let Ok(store) = session.s3().store(&location.bucket) else {
            continue;
        };
        let prefix = StorePath::from(location.key.as_str());
        let mut kinds: Vec<(&'static str, String)> = Vec::new();
        let mut listing = store.list(Some(&prefix)).take(FORMAT_PROBE);
        while let Some(Ok(object)) = listing.next().await {
            let name = object.location.filename().unwrap_or_default().to_string();
            let kind = format_of(&name);
            if !kinds.iter().any(|(k, _)| *k == kind) {
                kinds.push((kind, name));
            }
        }
        if kinds.len() > 1 {
            kinds.sort();
            let found = kinds
                .iter()
                .map(|(kind, example)| format!("{kind} ({example})"))
                .collect::<Vec<_>>()
                .join(", ");
            // The reader that failed was Parquet's: offer its file.
            let (_, first) = kinds
                .iter()
                .find(|(kind, _)| *kind == "Parquet")
                .unwrap_or(&kinds[0]);
            return Some(SqlError::new(
                ErrorKind::Plan,
                format!(
                    "{url} holds files of several formats — {found} — and a table reads one: point at one file, such as '{url}{first}', or at a folder of one format."
                ),
            ));
        }
    }
    None
}

/// The format SQL would read `name` as (the one list in
/// `quarry_s3::table_formats`), or "other".
fn format_of(name: &str) -> &'static str {
    match quarry_s3::table_format(name) {
        Some(TableFormat::Parquet) => "Parquet",
        Some(TableFormat::Csv) => "CSV",
        Some(TableFormat::Json) => "JSON",
        Some(TableFormat::Arrow) => "Arrow",
        None => "other",
    }
}

/// Why `COPY … TO` the statement's destination (its last S3 URL) failed,
/// when S3 says; `None` when the bucket answers normally.
pub(crate) async fn unwritable_destination(
    session: &SqlSession,
    ctx: &ErrorContext<'_>,
) -> Option<SqlError> {
    let url = s3_urls(ctx.statement).pop()?;
    let location = S3Location::parse(&url).ok()?;
    let store = match session.s3().store(&location.bucket) {
        Ok(store) => store,
        Err(e) => return Some(SqlError::new(ErrorKind::Plan, e.to_string())),
    };
    let folder = location
        .key
        .rsplit_once('/')
        .map(|(folder, _)| format!("{folder}/"));
    let prefix = folder.as_deref().map(StorePath::from);
    match store.list_with_delimiter(prefix.as_ref()).await {
        Ok(_) => Some(SqlError::new(
            ErrorKind::Execution,
            format!(
                "Writing {url} failed although its bucket can be listed: your S3 policy may not allow writing there, or the bucket's quota is full."
            ),
        )),
        Err(e) => Some(from_store_error(&e, ctx, Some(&url))),
    }
}
