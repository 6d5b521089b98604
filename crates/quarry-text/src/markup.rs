//! HTML built from data: escaping and the small tables Quarry's magics show.
//!
//! Data goes in as `&str` and is escaped here; the only markup a caller can
//! add is what this module writes itself (tags, classes, alignment). There
//! is deliberately no way to pass pre-rendered HTML into a cell.

use std::fmt::Write as _;

/// `<`, `>`, `&`, `"` and `'` as character references: the text shows
/// exactly as written and can never open a tag, end an attribute or start
/// an entity.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How a column's cells are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Ordinary text, left-aligned.
    Text,
    /// Numbers and sizes, right-aligned.
    Number,
    /// Names as written (keys, URLs, column names): monospaced, and white
    /// space kept, so `a  b` and a key ending in a space show as they are.
    Code,
}

/// A table of text: a header row, rows of cells and an optional caption
/// and footer line, all escaped.
#[derive(Debug, Clone)]
pub struct HtmlTable {
    columns: Vec<(String, Cell)>,
    rows: Vec<Vec<String>>,
    caption: Option<String>,
    footer: Option<String>,
}

impl HtmlTable {
    /// A table with these column headings and cell kinds.
    pub fn new<'a>(columns: impl IntoIterator<Item = (&'a str, Cell)>) -> Self {
        HtmlTable {
            columns: columns
                .into_iter()
                .map(|(name, kind)| (name.to_string(), kind))
                .collect(),
            rows: Vec::new(),
            caption: None,
            footer: None,
        }
    }

    /// A line above the table (bold), e.g. what the table is of.
    pub fn caption(mut self, text: impl Into<String>) -> Self {
        self.caption = Some(text.into());
        self
    }

    /// A line below the table, e.g. counts and what was left out.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = Some(text.into());
        self
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        let mut row: Vec<String> = cells
            .into_iter()
            .take(self.columns.len())
            .map(|cell| cell.as_ref().to_string())
            .collect();
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    /// How many rows were added.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as HTML, every piece of text escaped.
    pub fn to_html(&self) -> String {
        let mut html = String::from("<div class=\"quarry-listing\">");
        if let Some(caption) = &self.caption {
            let _ = write!(html, "<p><strong>{}</strong></p>", escape_html(caption));
        }
        html.push_str("<table><thead><tr>");
        for (name, kind) in &self.columns {
            let _ = write!(html, "<th{}>{}</th>", align(*kind), escape_html(name));
        }
        html.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            html.push_str("<tr>");
            for ((_, kind), cell) in self.columns.iter().zip(row) {
                let text = escape_html(cell);
                match kind {
                    Cell::Code if !cell.is_empty() => {
                        let _ = write!(
                            html,
                            "<td><code style=\"white-space: pre\">{text}</code></td>"
                        );
                    }
                    _ => {
                        let _ = write!(html, "<td{}>{text}</td>", align(*kind));
                    }
                }
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        if let Some(footer) = &self.footer {
            let _ = write!(html, "<p>{}</p>", escape_html(footer));
        }
        html.push_str("</div>");
        html
    }
}

fn align(kind: Cell) -> &'static str {
    match kind {
        Cell::Number => " style=\"text-align: right\"",
        Cell::Text | Cell::Code => " style=\"text-align: left\"",
    }
}

/// Each line as a paragraph of text, escaped.
pub fn paragraphs<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    lines
        .into_iter()
        .map(|line| format!("<p>{}</p>", escape_html(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Strings a tenant could put in a key, a column name or a value.
    pub(crate) const HOSTILE: &[&str] = &[
        "<img src=x onerror=window.__quarryPwned=1>",
        "<script>window.__quarryPwned=1</script>",
        "`</code><img src=x onerror=alert(1)>`",
        "[click](javascript:alert(1))",
        "![x](javascript:alert(1))",
        "a | b | c",
        "line one\nline two",
        "\"><svg onload=alert(1)>",
        "' onmouseover='alert(1)",
        "&lt;b&gt;already escaped&lt;/b&gt;",
    ];

    /// Every `<` in the output belongs to a tag this module writes.
    fn tags(html: &str) -> Vec<String> {
        html.split('<')
            .skip(1)
            .map(|rest| {
                rest.split(|c: char| c == '>' || c.is_whitespace())
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn hostile_text_stays_text() {
        let allowed = [
            "div", "/div", "p", "/p", "strong", "/strong", "table", "/table", "thead", "/thead",
            "tbody", "/tbody", "tr", "/tr", "th", "/th", "td", "/td", "code", "/code",
        ];
        for hostile in HOSTILE {
            let mut table = HtmlTable::new([("name", Cell::Code), ("value", Cell::Text)])
                .caption(*hostile)
                .footer(*hostile);
            table.row([*hostile, *hostile]);
            let html = table.to_html();
            for tag in tags(&html) {
                assert!(
                    allowed.contains(&tag.as_str()),
                    "{hostile:?} made a <{tag}> in {html}"
                );
            }
            // Quotes cannot end an attribute either.
            assert!(!html.contains("\"><svg"), "{html}");
            assert!(!escape_html(hostile).contains('\''), "{hostile}");
        }
    }

    #[test]
    fn escaping_is_reversible_by_a_browser() {
        let escaped = escape_html("a<b & 'c' \"d\"");
        assert_eq!(escaped, "a&lt;b &amp; &#39;c&#39; &quot;d&quot;");
        // Entities in data are data: shown as typed, not decoded.
        assert_eq!(escape_html("&lt;"), "&amp;lt;");
    }

    #[test]
    fn rows_are_padded_and_cut_to_the_columns() {
        let mut table = HtmlTable::new([("a", Cell::Text), ("b", Cell::Number)]);
        table.row(["1"]);
        table.row(["1", "2", "3"]);
        let html = table.to_html();
        assert_eq!(html.matches("<td").count(), 4);
        assert!(!html.contains(">3<"));
        assert_eq!(table.len(), 2);
    }
}
