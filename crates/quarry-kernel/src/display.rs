//! Turning results and progress into MIME bundles.

use jupyter_protocol::{Media, MediaType};
use quarry_sql::{notebook::RESULT_MIME, notebook::RenderedTable, notebook::ResultBundle};
use quarry_text::markup::escape_html;
use serde_json::Value;

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

/// The grid's bundle. It carries no code: the cells its buttons insert
/// come from the live kernel (see `grid_actions`).
pub(super) fn grid(bundle: &ResultBundle<'_>) -> Value {
    bundle.to_json()
}

/// A short status line (progress, summaries) in text and HTML.
pub(super) fn status_line(text: &str) -> Media {
    Media {
        content: vec![
            MediaType::Plain(text.to_string()),
            MediaType::Html(format!(
                "<div class=\"quarry-progress\" style=\"font-family: var(--jp-code-font-family, monospace); opacity: 0.8\">{}</div>",
                escape_html(text)
            )),
        ],
    }
}

/// Quarry's own help in Markdown with a plain-text twin. Never data: a
/// trusted output's Markdown is rendered unsanitised, so anything that came
/// from data goes through [`text_and_html`] instead.
pub(super) fn help_markdown(text: &str) -> Media {
    Media {
        content: vec![
            MediaType::Plain(text.to_string()),
            MediaType::Markdown(text.to_string()),
        ],
    }
}

/// Text for terminals and HTML for JupyterLab; the HTML comes from
/// [`quarry_text::markup`], where every piece of data is escaped.
pub(super) fn text_and_html(text: &str, html: String) -> Media {
    Media {
        content: vec![MediaType::Plain(text.to_string()), MediaType::Html(html)],
    }
}
