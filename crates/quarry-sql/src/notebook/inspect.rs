//! Shift-Tab help: the schema of a table or file, or a function's docs.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::Schema;

use crate::engine::SqlSession;
use crate::notebook::complete::byte_offset;

/// Plain-text help for whatever is under the cursor, if Quarry knows it.
pub async fn inspect(session: &SqlSession, code: &str, cursor_pos: usize) -> Option<String> {
    let at = byte_offset(code, cursor_pos);
    if let Some(url) = quoted_url_at(code, at) {
        let schema = file_schema(session, &url).await?;
        return Some(describe_schema(&url, "file", &schema));
    }
    let word = word_at(code, at)?;
    if let Ok(provider) = session.context().table_provider(word.as_str()).await {
        return Some(describe_schema(&word, "table", provider.schema().as_ref()));
    }
    let state = session.context().state();
    let lower = word.to_lowercase();
    let doc = state
        .scalar_functions()
        .get(&lower)
        .and_then(|f| f.documentation().cloned())
        .or_else(|| {
            state
                .aggregate_functions()
                .get(&lower)
                .and_then(|f| f.documentation().cloned())
        })
        .or_else(|| {
            state
                .window_functions()
                .get(&lower)
                .and_then(|f| f.documentation().cloned())
        })?;
    let mut text = format!(
        "{lower} (function)\n\n{}\n\n{}",
        doc.description, doc.syntax_example
    );
    if let Some(example) = &doc.sql_example {
        let _ = write!(text, "\n\nExample:\n{example}");
    }
    Some(text)
}

async fn file_schema(session: &SqlSession, url: &str) -> Option<Schema> {
    let sql = format!("SELECT * FROM '{}' LIMIT 0", url.replace('\'', "''"));
    let lookup = async {
        session
            .context()
            .sql(&sql)
            .await
            .ok()
            .map(|df| df.schema().as_arrow().clone())
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), lookup)
        .await
        .ok()
        .flatten()
}

fn describe_schema(name: &str, what: &str, schema: &Schema) -> String {
    let width = schema
        .fields()
        .iter()
        .map(|f| f.name().len())
        .max()
        .unwrap_or(0);
    let mut text = format!("{name} ({what}, {} columns)\n", schema.fields().len());
    for field in schema.fields() {
        let nullable = if field.is_nullable() { "" } else { " NOT NULL" };
        let _ = write!(
            text,
            "\n  {:width$}  {}{nullable}",
            field.name(),
            field.data_type()
        );
    }
    text
}

/// The `'…'` literal around byte offset `at`, if it holds a URL.
fn quoted_url_at(code: &str, at: usize) -> Option<String> {
    let open = code[..at].rfind('\'')?;
    // An even number of quotes before `open` means `open` starts a literal.
    if !code[..open].matches('\'').count().is_multiple_of(2) {
        return None;
    }
    let close = code[open + 1..].find('\'').map(|i| open + 1 + i)?;
    if at > close + 1 {
        return None;
    }
    let literal = &code[open + 1..close];
    literal.contains("://").then(|| literal.to_string())
}

fn word_at(code: &str, at: usize) -> Option<String> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    let start = code[..at].rfind(|c: char| !is_word(c)).map_or(0, |i| i + 1);
    let end = code[at..]
        .find(|c: char| !is_word(c))
        .map_or(code.len(), |i| at + i);
    let word = code[start..end].trim_matches('.');
    (!word.is_empty()).then(|| word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn shows_table_schema_and_function_docs() {
        let s = crate::engine::session::test_session();
        s.run_cell(
            "CREATE TABLE readings AS SELECT 1 AS sensor_id",
            1,
            Arc::default(),
        )
        .await
        .unwrap();
        let text = inspect(&s, "SELECT * FROM readings", 17).await.unwrap();
        assert!(text.starts_with("readings (table, 1 columns)"), "{text}");
        assert!(text.contains("sensor_id"));
        let text = inspect(&s, "SELECT abs(x)", 9).await.unwrap();
        assert!(text.starts_with("abs (function)"), "{text}");
        assert!(inspect(&s, "SELECT nothing_known", 10).await.is_none());
    }

    #[test]
    fn finds_quoted_urls_and_words() {
        let code = "SELECT * FROM 's3://b/x.csv' WHERE a";
        assert_eq!(quoted_url_at(code, 20).as_deref(), Some("s3://b/x.csv"));
        assert_eq!(quoted_url_at(code, 35), None);
        assert_eq!(word_at(code, 35).as_deref(), Some("a"));
    }
}
