//! Turning results and progress into MIME bundles.

use jupyter_protocol::{Media, MediaType};
use quarry_sql::RenderedTable;

const DATA_RESOURCE: &str = "application/vnd.dataresource+json";

/// A table result: text, HTML and a data resource. JupyterLab draws the HTML;
/// other frontends fall back to text.
pub(super) fn table(rendered: RenderedTable) -> Media {
    Media {
        content: vec![
            MediaType::Plain(rendered.plain),
            MediaType::Html(rendered.html),
            MediaType::Other((DATA_RESOURCE.into(), rendered.data_resource)),
        ],
    }
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
