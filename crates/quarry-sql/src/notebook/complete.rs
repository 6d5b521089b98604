//! Tab completion: keywords, functions, tables, columns in context and
//! `s3://` paths.

use std::collections::BTreeSet;
use std::time::Duration;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use object_store::path::Path as StorePath;

use crate::engine::SqlSession;

/// Remote lookups (S3 listings, file schemas) give up after this long: a
/// completion popup that hangs is worse than one without S3 entries.
const REMOTE_TIMEOUT: Duration = Duration::from_secs(3);

/// Completion candidates replacing `cursor_start..cursor_end` (offsets in
/// Unicode code points, as the Jupyter protocol counts them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// Candidate completions, best first.
    pub matches: Vec<String>,
    /// One kind per match: `keyword`, `function`, `table`, `column`, `path`.
    pub kinds: Vec<&'static str>,
    /// Where the text being completed starts (in characters).
    pub cursor_start: usize,
    /// Where it ends (in characters).
    pub cursor_end: usize,
}

/// Keywords worth suggesting; sqlparser's full list has hundreds that only
/// other dialects use.
const KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP BY",
    "ORDER BY",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "INNER JOIN",
    "LEFT JOIN",
    "RIGHT JOIN",
    "FULL OUTER JOIN",
    "CROSS JOIN",
    "ON",
    "USING",
    "UNION",
    "UNION ALL",
    "INTERSECT",
    "EXCEPT",
    "DISTINCT",
    "AS",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "WITH",
    "VALUES",
    "INSERT INTO",
    "CREATE",
    "CREATE TABLE",
    "CREATE EXTERNAL TABLE",
    "CREATE VIEW",
    "DROP TABLE",
    "DROP VIEW",
    "STORED AS",
    "LOCATION",
    "OPTIONS",
    "PARTITIONED BY",
    "COPY",
    "TO",
    "PARQUET",
    "CSV",
    "JSON",
    "EXPLAIN",
    "ANALYZE",
    "SHOW TABLES",
    "SHOW COLUMNS",
    "DESCRIBE",
    "ASC",
    "DESC",
    "NULLS FIRST",
    "NULLS LAST",
    "OVER",
    "PARTITION BY",
    "ROWS",
    "RANGE",
    "CAST",
    "TRY_CAST",
    "INTERVAL",
    "TRUE",
    "FALSE",
    "IF NOT EXISTS",
    "OR REPLACE",
    "QUALIFY",
    "UNNEST",
    "LATERAL",
];

/// `$ci` → the `%set` parameters starting with `ci`, written with their `$`.
fn complete_parameter(session: &SqlSession, word: &str, start: usize, end: usize) -> Completion {
    let matches: Vec<String> = session
        .parameters()
        .list()
        .into_iter()
        .filter(|(name, _)| starts_with_ignore_case(name, word))
        .map(|(name, _)| format!("${name}"))
        .collect();
    Completion {
        kinds: vec!["parameter"; matches.len()],
        matches,
        cursor_start: start,
        cursor_end: end,
    }
}

/// Completes `s3://` paths inside a string literal (`typed` is what is
/// typed after its quote); nothing else completes inside a string.
async fn complete_in_string(session: &SqlSession, typed: &str, cursor_pos: usize) -> Completion {
    let paths = if typed.starts_with("s3://") {
        complete_s3_path(session, typed).await
    } else {
        Vec::new()
    };
    Completion {
        kinds: vec!["path"; paths.len()],
        matches: paths,
        cursor_start: cursor_pos - typed.chars().count(),
        cursor_end: cursor_pos,
    }
}

/// Completes the word at `cursor_pos` in `code`: keywords, functions, tables and their columns, `$` parameters and `s3://` paths.
pub async fn complete(session: &SqlSession, code: &str, cursor_pos: usize) -> Completion {
    let byte_pos = byte_offset(code, cursor_pos);
    let before = &code[..byte_pos];
    if let Some(literal_start) = open_string_start(before) {
        return complete_in_string(session, &before[literal_start..], cursor_pos).await;
    }
    let word_start = before
        .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |i| i + 1);
    let word = &before[word_start..];
    let start = cursor_pos - word.chars().count();
    if before[..word_start].ends_with('$') {
        return complete_parameter(session, word, start - 1, cursor_pos);
    }
    let mut completion = Completion {
        cursor_start: start,
        cursor_end: cursor_pos,
        ..Completion::default()
    };
    // `table.col` completes the columns of that table only.
    if let Some((table, partial)) = word.rsplit_once('.') {
        for column in columns_of(session, table).await {
            if starts_with_ignore_case(&column, partial) {
                completion.matches.push(format!("{table}.{column}"));
                completion.kinds.push("column");
            }
        }
        return completion;
    }
    complete_word(session, code, word, completion).await
}

/// Completes a bare word: the columns of the tables the cell names, tables,
/// keywords (in the case typed) and functions.
async fn complete_word(
    session: &SqlSession,
    code: &str,
    word: &str,
    mut completion: Completion,
) -> Completion {
    let mut seen = BTreeSet::new();
    let mut push = |c: &mut Completion, candidate: String, kind: &'static str| {
        if starts_with_ignore_case(&candidate, word) && seen.insert(candidate.to_lowercase()) {
            c.matches.push(candidate);
            c.kinds.push(kind);
        }
    };
    for table in referenced_tables(code) {
        for column in columns_of(session, &table).await {
            push(&mut completion, column, "column");
        }
    }
    for table in session.table_names() {
        push(&mut completion, table, "table");
    }
    if word.is_empty() {
        // An empty prefix would list every function; keywords are enough.
        for keyword in KEYWORDS {
            push(&mut completion, keyword.to_string(), "keyword");
        }
        return completion;
    }
    let lower = word.chars().all(|c| !c.is_uppercase());
    for keyword in KEYWORDS {
        let keyword = if lower {
            keyword.to_lowercase()
        } else {
            keyword.to_string()
        };
        push(&mut completion, keyword, "keyword");
    }
    let state = session.context().state();
    let mut functions: Vec<&String> = state
        .scalar_functions()
        .keys()
        .chain(state.aggregate_functions().keys())
        .chain(state.window_functions().keys())
        .collect();
    functions.sort();
    for name in functions {
        push(&mut completion, name.clone(), "function");
    }
    completion
}

/// Converts a code-point offset into a byte offset, clamped to the text.
pub(crate) fn byte_offset(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i)
}

/// If `before` ends inside a single-quoted string, the byte offset just
/// after its opening quote.
fn open_string_start(before: &str) -> Option<usize> {
    let mut open = None;
    for (i, c) in before.char_indices() {
        if c == '\'' {
            open = match open {
                Some(_) => None,
                None => Some(i + 1),
            };
        }
    }
    open
}

fn starts_with_ignore_case(candidate: &str, prefix: &str) -> bool {
    candidate.len() >= prefix.len()
        && candidate.is_char_boundary(prefix.len())
        && candidate[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Table names and quoted file URLs that follow FROM or JOIN.
pub(crate) fn referenced_tables(code: &str) -> Vec<String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, code).tokenize() else {
        return Vec::new();
    };
    let significant: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    let mut tables = Vec::new();
    for pair in significant.windows(2) {
        let is_source_keyword = matches!(pair[0], Token::Word(w)
            if w.value.eq_ignore_ascii_case("from") || w.value.eq_ignore_ascii_case("join"));
        if !is_source_keyword {
            continue;
        }
        match pair[1] {
            Token::Word(w) => tables.push(w.value.clone()),
            Token::SingleQuotedString(s) => tables.push(s.clone()),
            _ => {}
        }
    }
    tables
}

/// Column names of a registered table or a file URL; empty when unknown.
pub(crate) async fn columns_of(session: &SqlSession, table: &str) -> Vec<String> {
    let lookup = async {
        let schema = if table.contains("://") {
            let sql = format!("SELECT * FROM '{}' LIMIT 0", table.replace('\'', "''"));
            session
                .context()
                .sql(&sql)
                .await
                .ok()?
                .schema()
                .as_arrow()
                .clone()
        } else {
            session
                .context()
                .table_provider(table)
                .await
                .ok()?
                .schema()
                .as_ref()
                .clone()
        };
        Some(schema.fields().iter().map(|f| f.name().clone()).collect())
    };
    tokio::time::timeout(REMOTE_TIMEOUT, lookup)
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Lists the "directory" being typed in `typed` (`s3://bucket/dir/par`).
async fn complete_s3_path(session: &SqlSession, typed: &str) -> Vec<String> {
    let rest = &typed["s3://".len()..];
    let Some((bucket, key)) = rest.split_once('/') else {
        return Vec::new();
    };
    let Ok(store) = session.s3().store(bucket) else {
        return Vec::new();
    };
    let (dir, partial) = match key.rfind('/') {
        Some(i) => (&key[..i], &key[i + 1..]),
        None => ("", key),
    };
    let prefix = (!dir.is_empty()).then(|| StorePath::from(dir));
    let listing =
        tokio::time::timeout(REMOTE_TIMEOUT, store.list_with_delimiter(prefix.as_ref())).await;
    let Ok(Ok(listing)) = listing else {
        return Vec::new();
    };
    let base = if dir.is_empty() {
        format!("s3://{bucket}/")
    } else {
        format!("s3://{bucket}/{dir}/")
    };
    let dirs = listing
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(|name| format!("{name}/")));
    let files = listing
        .objects
        .iter()
        .filter_map(|o| o.location.filename().map(str::to_string));
    let mut matches: Vec<String> = dirs
        .chain(files)
        .filter(|name| name.starts_with(partial))
        .map(|name| format!("{base}{name}"))
        .collect();
    matches.sort();
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    async fn session() -> SqlSession {
        let s = crate::engine::session::test_session();
        s.run_cell(
            "CREATE TABLE readings AS SELECT 1 AS sensor_id, 2.0 AS temperature",
            1,
            Arc::default(),
        )
        .await
        .unwrap();
        s
    }

    #[tokio::test]
    async fn dollar_completes_parameter_names() {
        let session = crate::engine::session::test_session();
        session.parameters().set("city", "'Lyon'").unwrap();
        session.parameters().set("since", "2024-01-01").unwrap();
        let c = complete(&session, "SELECT * FROM t WHERE c = $ci", 29).await;
        assert_eq!(c.matches, vec!["$city".to_string()]);
        assert_eq!((c.cursor_start, c.cursor_end), (26, 29));
        assert_eq!(complete(&session, "SELECT $", 8).await.matches.len(), 2);
    }

    #[tokio::test]
    async fn completes_keywords_in_the_case_typed() {
        let c = complete(&session().await, "sel", 3).await;
        assert!(c.matches.contains(&"select".to_string()), "{:?}", c.matches);
        assert_eq!((c.cursor_start, c.cursor_end), (0, 3));
        let c = complete(&session().await, "SEL", 3).await;
        assert!(c.matches.contains(&"SELECT".to_string()));
    }

    #[tokio::test]
    async fn completes_tables_functions_and_columns_in_context() {
        let s = session().await;
        let c = complete(&s, "SELECT * FROM rea", 17).await;
        assert!(
            c.matches.contains(&"readings".to_string()),
            "{:?}",
            c.matches
        );
        let code = "SELECT temp FROM readings";
        let c = complete(&s, code, 11).await;
        assert_eq!(
            c.matches.first().map(String::as_str),
            Some("temperature"),
            "{:?}",
            c.matches
        );
        assert_eq!(c.cursor_start, 7);
        let c = complete(&s, "SELECT readings.sen", 19).await;
        assert_eq!(c.matches, vec!["readings.sensor_id".to_string()]);
        let c = complete(&s, "SELECT approx_dis", 17).await;
        assert!(
            c.matches.contains(&"approx_distinct".to_string()),
            "{:?}",
            c.matches
        );
    }

    #[tokio::test]
    async fn offsets_count_code_points_not_bytes() {
        let s = session().await;
        let code = "SELECT 'é' AS e, rea";
        let c = complete(&s, code, code.chars().count()).await;
        assert_eq!(c.cursor_start, code.chars().count() - 3);
    }

    #[test]
    fn finds_referenced_tables_and_urls() {
        assert_eq!(
            referenced_tables("SELECT * FROM a JOIN 's3://b/c.parquet' ON x"),
            vec!["a".to_string(), "s3://b/c.parquet".to_string()]
        );
    }
}
