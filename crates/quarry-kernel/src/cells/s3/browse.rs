//! `%s3 ls`, `%s3 head`, `%s3 whoami`.

use std::fmt::Write as _;

use chrono::Utc;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as StorePath;
use quarry_s3::S3Location;

use quarry_sql::human_bytes;

use super::{S3, take_flag, take_number, usage_error};
use crate::cells::display;
use crate::protocol::ExecuteError;

/// Entries `%s3 ls` shows unless told otherwise: enough to browse, never a
/// whole bucket by accident.
const DEFAULT_LIMIT: usize = 1000;
const PREVIEW_ROWS: usize = 10;
const TEXT_HEAD_BYTES: u64 = 4096;

impl S3<'_> {
    pub(super) async fn ls(&self, args: &[String]) -> Result<(), ExecuteError> {
        let mut args = args.to_vec();
        let all = take_flag(&mut args, &["--all", "-a"]);
        let limit = if all {
            usize::MAX
        } else {
            take_number(&mut args, "--limit")?.unwrap_or(DEFAULT_LIMIT)
        };
        match args.as_slice() {
            [] => self.ls_buckets().await,
            [url] => {
                let location = S3Location::parse(url).map_err(|e| usage_error(&e.to_string()))?;
                self.ls_prefix(&location, limit).await
            }
            _ => Err(usage_error("%s3 ls takes at most one s3:// URL.")),
        }
    }

    async fn ls_buckets(&self) -> Result<(), ExecuteError> {
        let client = self.handler.session.s3().client();
        let out = client
            .list_buckets()
            .send()
            .await
            .map_err(|e| self.sdk_error(&e, "your bucket list"))?;
        let mut text = String::new();
        let mut markdown = String::from("| bucket | created |\n|---|---|\n");
        for bucket in out.buckets() {
            let name = bucket.name().unwrap_or("?");
            let created = bucket
                .creation_date()
                .map(|d| d.to_string())
                .unwrap_or_default();
            let _ = writeln!(text, "{created:>24}  s3://{name}/");
            let _ = writeln!(markdown, "| `s3://{name}/` | {created} |");
        }
        let count = out.buckets().len();
        let footer = format!("{count} bucket{}", if count == 1 { "" } else { "s" });
        self.show_listing(&text, &markdown, &footer);
        Ok(())
    }

    async fn ls_prefix(&self, location: &S3Location, limit: usize) -> Result<(), ExecuteError> {
        let client = self.handler.session.s3().client();
        let place = location.to_string();
        let mut prefixes = Vec::new();
        let mut objects = Vec::new();
        let mut token = None;
        let mut more = false;
        loop {
            let page = client
                .list_objects_v2()
                .bucket(&location.bucket)
                .prefix(&location.key)
                .delimiter("/")
                .max_keys(1000)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.sdk_error(&e, &place))?;
            prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
            objects.extend(page.contents().iter().map(|o| {
                (
                    o.key().unwrap_or_default().to_string(),
                    o.size().unwrap_or(0).max(0) as u64,
                    o.last_modified().map(|d| d.to_string()).unwrap_or_default(),
                )
            }));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() {
                break;
            }
            if prefixes.len() + objects.len() >= limit {
                more = true;
                break;
            }
        }
        let total = prefixes.len() + objects.len();
        if total == 0 {
            return Err(super::browse_not_found(&place));
        }
        // Prefixes first, as a file browser lists folders first.
        let mut text = String::new();
        let mut markdown = String::from("| name | size | modified |\n|---|---:|---|\n");
        let mut shown = 0;
        for prefix in &prefixes {
            if shown == limit {
                break;
            }
            shown += 1;
            let _ = writeln!(
                text,
                "{:>24}  {:>10}  s3://{}/{prefix}",
                "", "PRE", location.bucket
            );
            let _ = writeln!(markdown, "| `s3://{}/{prefix}` | | |", location.bucket);
        }
        let mut bytes = 0u64;
        for (key, size, modified) in &objects {
            bytes += size;
            if shown == limit {
                continue;
            }
            shown += 1;
            let _ = writeln!(
                text,
                "{modified:>24}  {:>10}  s3://{}/{key}",
                human_bytes(*size),
                location.bucket
            );
            let _ = writeln!(
                markdown,
                "| `s3://{}/{key}` | {} | {modified} |",
                location.bucket,
                human_bytes(*size)
            );
        }
        let mut footer = format!(
            "{} folder{}, {} object{} ({})",
            prefixes.len(),
            if prefixes.len() == 1 { "" } else { "s" },
            objects.len(),
            if objects.len() == 1 { "" } else { "s" },
            human_bytes(bytes)
        );
        if more || shown < total {
            footer.push_str(&format!(
                "; showing the first {shown} — more with --limit N or --all"
            ));
        }
        self.show_listing(&text, &markdown, &footer);
        Ok(())
    }

    /// A listing as plain text for terminals and a Markdown table for
    /// JupyterLab, both ending with the same summary line.
    fn show_listing(&self, text: &str, markdown: &str, footer: &str) {
        self.outputs.display(
            display::text_and_markdown(
                &format!("{text}{footer}\n"),
                &format!("{markdown}\n{footer}"),
            ),
            None,
        );
    }

    pub(super) async fn head(&self, args: &[String]) -> Result<(), ExecuteError> {
        let mut args = args.to_vec();
        let rows = take_number(&mut args, "--rows")?.unwrap_or(PREVIEW_ROWS);
        let [url] = args.as_slice() else {
            return Err(usage_error("%s3 head takes one s3:// URL."));
        };
        let location = S3Location::parse(url).map_err(|e| usage_error(&e.to_string()))?;
        let store = self.store(&location.bucket)?;
        let path = StorePath::from(location.key.as_str());
        let meta = store
            .head(&path)
            .await
            .map_err(|e| self.store_error(&e, url))?;
        let lower = location.key.to_ascii_lowercase();
        if [".parquet", ".csv", ".json"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        {
            let sql = format!("SELECT * FROM '{}' LIMIT {rows}", url.replace('\'', "''"));
            let session = self.handler.session.clone();
            let outcome = self
                .handler
                .executor
                .spawn(async move { session.run_cell(&sql, rows, Default::default()).await })
                .await
                .map_err(|_| {
                    ExecuteError::new("InternalError", "The preview stopped unexpectedly.")
                })?
                .map_err(super::from_sql)?;
            if let Some(result) = outcome.result {
                let mut rendered = quarry_sql::render_batches(
                    &result.schema,
                    &result.batches,
                    result.total_rows,
                    None,
                );
                let note = format!(
                    "First {} rows of {url} ({})",
                    result.total_rows,
                    human_bytes(meta.size)
                );
                rendered.plain = format!("{note}\n{}", rendered.plain);
                self.outputs.display(display::table(rendered), None);
            }
            return Ok(());
        }
        let end = meta.size.min(TEXT_HEAD_BYTES);
        let bytes = store
            .get_range(&path, 0..end)
            .await
            .map_err(|e| self.store_error(&e, url))?;
        if bytes.contains(&0) {
            self.outputs.stdout(&format!(
                "{url} is a binary file of {}.\n",
                human_bytes(meta.size)
            ));
            return Ok(());
        }
        let text = String::from_utf8_lossy(&bytes);
        let head: Vec<&str> = text.lines().take(20).collect();
        let mut out = head.join("\n");
        out.push('\n');
        if meta.size > end || text.lines().count() > 20 {
            let _ = writeln!(out, "… ({} in all)", human_bytes(meta.size));
        }
        self.outputs.stdout(&out);
        Ok(())
    }

    pub(super) async fn whoami(&self) -> Result<(), ExecuteError> {
        let s3 = self.handler.session.s3();
        let settings = s3.settings();
        let identity = s3.credentials().identity().await;
        let user =
            std::env::var("JUPYTERHUB_USER").unwrap_or_else(|_| "(not on JupyterHub)".into());
        let mut rows = vec![
            ("user", user),
            ("endpoint", settings.endpoint_display()),
            ("region", settings.region.clone()),
        ];
        match identity {
            None => rows.push(("credentials", "none configured".into())),
            Some(id) => {
                rows.push(("access key", id.access_key_hint.clone()));
                rows.push((
                    "kind",
                    if id.temporary {
                        "temporary (STS)".into()
                    } else {
                        "long-term".into()
                    },
                ));
                rows.push(("source", id.source.to_string()));
                let expiry = match id.expiration {
                    None => "not stated".to_string(),
                    Some(at) => {
                        let left = at - Utc::now();
                        let when = at.format("%Y-%m-%d %H:%M:%S UTC");
                        if left.num_seconds() <= 0 {
                            format!("{when} (expired)")
                        } else {
                            format!("{when} (in {})", human_minutes(left.num_seconds()))
                        }
                    }
                };
                rows.push(("expires", expiry));
                rows.push((
                    "renews itself",
                    if id.renewable {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ));
            }
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let text: String = rows
            .iter()
            .map(|(k, v)| format!("{k:width$}  {v}\n"))
            .collect();
        let markdown: String = std::iter::once("| | |\n|---|---|\n".to_string())
            .chain(rows.iter().map(|(k, v)| format!("| {k} | {v} |\n")))
            .collect();
        self.outputs
            .display(display::text_and_markdown(&text, &markdown), None);
        Ok(())
    }
}

fn human_minutes(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}
