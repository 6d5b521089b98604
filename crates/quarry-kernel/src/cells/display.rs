//! Turning results and progress into MIME bundles.

use jupyter_protocol::{Media, MediaType};
use quarry_sql::{RESULT_MIME, RenderedTable, ResultBundle};
use serde_json::{Value, json};

use super::present::LastQuery;

const DATA_RESOURCE: &str = "application/vnd.dataresource+json";

/// A table result: text, HTML and a data resource, and for a result the
/// grid can explore its `application/vnd.quarry.result+json`. JupyterLab
/// with Quarry's extension draws the grid; without it, the HTML; other
/// frontends fall back to text.
pub(super) fn table(rendered: RenderedTable, grid: Option<Value>) -> Media {
    let mut content = vec![
        MediaType::Plain(rendered.plain),
        MediaType::Html(rendered.html),
        MediaType::Other((DATA_RESOURCE.into(), rendered.data_resource)),
    ];
    if let Some(grid) = grid {
        content.push(MediaType::Other((RESULT_MIME.into(), grid)));
    }
    Media { content }
}

/// The grid's bundle, with the cells its chart, profile and export
/// buttons insert when the query that made the result is known.
pub(super) fn grid(bundle: &ResultBundle<'_>, source: Option<&LastQuery>) -> Value {
    let mut value = bundle.to_json();
    if let Some(source) = source {
        let below = source.cell_below();
        value["actions"] = json!({
            "chart": format!("%chart\n{below}"),
            "profile": format!("%profile\n{below}"),
            "export": format!("%export csv\n{below}"),
        });
    }
    value
}

/// A short status line (progress, summaries) in text and HTML.
pub(super) fn status_line(text: &str) -> Media {
    Media {
        content: vec![
            MediaType::Plain(text.to_string()),
            MediaType::Html(format!(
                "<div class=\"quarry-progress\" style=\"font-family: var(--jp-code-font-family, monospace); opacity: 0.8\">{}</div>",
                escape(text)
            )),
        ],
    }
}

/// Help text in Markdown with a plain-text twin.
pub(super) fn markdown(text: &str) -> Media {
    Media {
        content: vec![
            MediaType::Plain(text.to_string()),
            MediaType::Markdown(text.to_string()),
        ],
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text for terminals and Markdown for JupyterLab.
pub(super) fn text_and_markdown(text: &str, markdown: &str) -> Media {
    Media {
        content: vec![
            MediaType::Plain(text.to_string()),
            MediaType::Markdown(markdown.to_string()),
        ],
    }
}
