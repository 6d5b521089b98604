//! `%s3 ls`, `%s3 head`, `%s3 whoami`.

use std::fmt::Write as _;

use chrono::Utc;
use quarry_s3::S3Location;
use quarry_sql::notebook::Preview;
use quarry_text::markup::{self, Cell, HtmlTable};
use quarry_text::numbers::human_bytes;

use super::{S3, take_flag, take_number, usage_error};
use crate::display;
use crate::protocol::ExecuteError;

/// Entries `%s3 ls` shows unless told otherwise: enough to browse, never a
/// whole bucket by accident.
const DEFAULT_LIMIT: usize = 1000;
const PREVIEW_ROWS: usize = 10;
const TEXT_HEAD_BYTES: u64 = 4096;

impl S3 {
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
        let buckets = quarry_s3::list_buckets(self.stores())
            .await
            .map_err(super::from_failure)?;
        let mut text = String::new();
        let mut table = HtmlTable::new([("bucket", Cell::Code), ("created", Cell::Text)]);
        for bucket in &buckets {
            let (name, created) = (&bucket.name, bucket.created.as_deref().unwrap_or_default());
            let _ = writeln!(text, "{created:>24}  s3://{name}/");
            table.row([format!("s3://{name}/").as_str(), created]);
        }
        let count = buckets.len();
        let footer = format!("{count} bucket{}", plural(count));
        self.show_listing(&text, table, &footer);
        Ok(())
    }

    async fn ls_prefix(&self, location: &S3Location, limit: usize) -> Result<(), ExecuteError> {
        let level = quarry_s3::list_level(self.stores(), location, None, limit)
            .await
            .map_err(super::from_failure)?;
        let place = location.to_string();
        if level.is_empty() {
            if level.has_marker {
                self.outputs
                    .stdout(&format!("{place} is an empty folder.\n"));
                return Ok(());
            }
            return Err(super::from_failure(quarry_s3::not_found_failure(&place)));
        }
        let bucket = &location.bucket;
        // Prefixes first, as a file browser lists folders first.
        let mut text = String::new();
        let mut table = HtmlTable::new([
            ("name", Cell::Code),
            ("size", Cell::Number),
            ("modified", Cell::Text),
        ]);
        let shown_prefixes = level.prefixes.iter().take(limit);
        let shown = shown_prefixes.len();
        for prefix in shown_prefixes {
            let _ = writeln!(text, "{:>24}  {:>10}  s3://{bucket}/{prefix}", "", "PRE");
            table.row([format!("s3://{bucket}/{prefix}")]);
        }
        let shown_objects = level.objects.iter().take(limit - shown);
        let shown = shown + shown_objects.len();
        for object in shown_objects {
            let (size, modified) = (
                human_bytes(object.size),
                object.last_modified.as_deref().unwrap_or_default(),
            );
            let key = &object.key;
            let _ = writeln!(text, "{modified:>24}  {size:>10}  s3://{bucket}/{key}");
            table.row([format!("s3://{bucket}/{key}").as_str(), &size, modified]);
        }
        let bytes: u64 = level.objects.iter().map(|o| o.size).sum();
        let (folders, objects) = (level.prefixes.len(), level.objects.len());
        let mut footer = format!(
            "{folders} folder{}, {objects} object{} ({})",
            plural(folders),
            plural(objects),
            human_bytes(bytes)
        );
        if level.next_token.is_some() || shown < level.len() {
            footer.push_str(&format!(
                "; showing the first {shown} — more with --limit N or --all"
            ));
        }
        self.show_listing(&text, table, &footer);
        Ok(())
    }

    /// A listing as plain text for terminals and an HTML table for
    /// JupyterLab (keys are data: text, never markup), both ending with the
    /// same summary line.
    fn show_listing(&self, text: &str, table: HtmlTable, footer: &str) {
        self.outputs.display(
            display::text_and_html(&format!("{text}{footer}\n"), table.footer(footer).to_html()),
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
        let preview = self
            .session
            .preview(&location, rows, TEXT_HEAD_BYTES)
            .await
            .map_err(super::from_sql)?;
        match preview {
            Preview::Table { size, result } => {
                let mut rendered = quarry_sql::notebook::render_batches(
                    &result.schema,
                    &result.batches,
                    result.total_rows,
                    None,
                );
                let note = format!(
                    "First {} rows of {url} ({})",
                    result.total_rows,
                    human_bytes(size)
                );
                rendered.plain = format!("{note}\n{}", rendered.plain);
                self.outputs.display(display::table(rendered, None), None);
            }
            Preview::Binary { size } => self.outputs.stdout(&format!(
                "{url} is a binary file of {}.\n",
                human_bytes(size)
            )),
            Preview::Text {
                size,
                text,
                truncated,
            } => {
                let mut out = text.lines().take(20).collect::<Vec<_>>().join("\n");
                out.push('\n');
                if truncated || text.lines().count() > 20 {
                    let _ = writeln!(out, "… ({} in all)", human_bytes(size));
                }
                self.outputs.stdout(&out);
            }
        }
        Ok(())
    }

    pub(super) async fn whoami(&self) -> Result<(), ExecuteError> {
        let s3 = self.session.s3();
        let settings = s3.settings();
        let identity = s3.credentials().identity().await;
        let user = self
            .hub_user
            .clone()
            .unwrap_or_else(|| "(not on JupyterHub)".into());
        let mut rows = vec![
            ("user", user),
            ("endpoint", settings.endpoint_display()),
            ("region", settings.region.clone()),
        ];
        let renewal_warning = identity
            .as_ref()
            .and_then(quarry_s3::Identity::renewal_warning);
        match &identity {
            None => rows.push(("credentials", "none configured".into())),
            Some(id) => rows.extend(credential_rows(id)),
        }
        let token_file = s3.credentials().token_file();
        if let Some(token) = &token_file {
            rows.push(("ID token", id_token_row(token)));
        }
        let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut text: String = rows
            .iter()
            .map(|(k, v)| format!("{k:width$}  {v}\n"))
            .collect();
        let warnings = token_file
            .and_then(|t| t.stale_warning(Utc::now()))
            .into_iter()
            .chain(renewal_warning);
        let mut table = HtmlTable::new([("", Cell::Text), ("", Cell::Text)]);
        for (key, value) in &rows {
            table.row([*key, value.as_str()]);
        }
        let mut html = table.to_html();
        for warning in warnings {
            text.push_str(&format!("\n{warning}\n"));
            html.push_str(&markup::paragraphs([warning.as_str()]));
        }
        self.outputs
            .display(display::text_and_html(&text, html), None);
        Ok(())
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// What `%s3 whoami` says about the keys in use (never a secret).
fn credential_rows(id: &quarry_s3::Identity) -> Vec<(&'static str, String)> {
    let expiry = match id.expiration {
        None => "not stated".to_string(),
        Some(at) => match time_left(at) {
            (when, None) => format!("{when} (expired)"),
            (when, Some(left)) => format!("{when} (in {left})"),
        },
    };
    let kind = if id.temporary {
        "temporary (STS)"
    } else {
        "long-term"
    };
    vec![
        ("access key", id.access_key_hint.clone()),
        ("kind", kind.into()),
        ("source", id.source.to_string()),
        ("expires", expiry),
        (
            "renews itself",
            if id.renewable { "yes" } else { "no" }.into(),
        ),
    ]
}

/// When the web identity token in the file expires, as a whoami row.
fn id_token_row(token: &quarry_s3::TokenFileState) -> String {
    let path = token.path.display();
    match token.expires_at {
        None => format!("{path} (unreadable, or not a JWT)"),
        Some(at) => match time_left(at) {
            (when, None) => format!("{path}, expired {when}: not replaced"),
            (when, Some(left)) => format!("{path}, expires {when} (in {left})"),
        },
    }
}

/// When `at` is, in UTC, and how long until then (`None` once it passed).
fn time_left(at: chrono::DateTime<Utc>) -> (String, Option<String>) {
    let left = (at - Utc::now()).num_seconds();
    let when = at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    (when, (left > 0).then(|| human_minutes(left)))
}

fn human_minutes(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}
