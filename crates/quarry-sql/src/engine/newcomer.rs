//! The mistakes people new to a SQL kernel make, answered in their terms.
//!
//! DataFusion's wording is right for the engine but not for someone who
//! typed Python into a SQL cell, compared a column with a bare word, or
//! mistyped a column of a file (DataFusion names it by the file's whole
//! URL). Each answer here is one sentence that says what happened and the
//! fix, naming things as the user wrote them.

use datafusion::common::Column;

/// A Python statement where SQL was expected: the sentence to show, if
/// the first line of `statement` reads as Python.
pub(crate) fn python_statement(statement: &str) -> Option<String> {
    let line = statement
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("--"))?;
    looks_like_python(line).then(|| {
        let shown: String = line.chars().take(60).collect();
        format!(
            "This is a SQL kernel, and `{shown}` is Python: run Python in a notebook with the Python 3 kernel (File › New › Notebook), and share results with it through %export or S3."
        )
    })
}

fn looks_like_python(line: &str) -> bool {
    let first = line
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default();
    let block = line.ends_with(':');
    match first {
        "import" | "print" | "def" | "class" | "lambda" | "pip" | "!pip" => true,
        "from" => line.contains(" import "),
        "for" | "while" | "if" | "with" | "try" | "elif" | "else" => block,
        _ => assignment_or_call(line),
    }
}

/// `df = …`, `x.y = …` or `df.head()`: no SQL statement starts that way.
fn assignment_or_call(line: &str) -> bool {
    let end = line
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    let rest = rest.trim_start();
    let assigns = rest.starts_with('=') && !rest.starts_with("==");
    let calls = name.contains('.') && rest.starts_with('(');
    assigns || calls
}

/// The sentence for a column the statement names but no table has.
pub(crate) fn missing_column(field: &Column, valid: &[Column], statement: &str) -> String {
    let written = field.flat_name();
    if field.relation.is_none()
        && let Some((left, operator)) = compared_with(statement, &field.name)
    {
        let word = &field.name;
        return format!(
            "There is no column named {word}: to compare {left} with the text '{word}', put it in single quotes: {left} {operator} '{word}'."
        );
    }
    let mut names: Vec<&str> = valid.iter().map(|c| c.name.as_str()).collect();
    names.dedup();
    let mut sentence = format!("There is no column named {written}");
    if let Some(same) = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(&field.name) && **n != field.name)
    {
        sentence.push_str(&format!(
            "; column names are case sensitive here: write \"{same}\" in double quotes"
        ));
    } else if let Some(close) = closest(&field.name, &names) {
        sentence.push_str(&format!("; did you mean {close}?"));
        sentence.push_str(&columns_list(&names));
        return sentence;
    }
    sentence.push('.');
    sentence.push_str(&columns_list(&names));
    sentence
}

fn columns_list(names: &[&str]) -> String {
    const SHOWN: usize = 12;
    if names.is_empty() {
        return String::new();
    }
    let mut list = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        list.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    format!(" The columns are {list}.")
}

/// The nearest name within half its length in edits, as DataFusion judges.
fn closest<'a>(name: &str, names: &[&'a str]) -> Option<&'a str> {
    let target = name.to_lowercase();
    names
        .iter()
        .map(|n| (levenshtein(&target, &n.to_lowercase()), *n))
        .filter(|(distance, n)| distance * 2 <= target.chars().count().max(n.chars().count()))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, n)| n)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// Where `word` stands unquoted right after a comparison (`site = tunnel`):
/// the left-hand side and the operator, as written.
fn compared_with(statement: &str, word: &str) -> Option<(String, String)> {
    let lower = statement.to_lowercase();
    let word_lower = word.to_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(&word_lower) {
        let at = from + found;
        from = at + word_lower.len();
        let before = &statement[..at];
        let after = &statement[at + word_lower.len()..];
        let bounded = !before
            .ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '\'' || c == '"')
            && !after
                .starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '\'' || c == '"');
        if !bounded {
            continue;
        }
        let trimmed = before.trim_end();
        let Some(operator) = ["<>", "!=", "<=", ">=", "=", "<", ">"]
            .into_iter()
            .find(|op| trimmed.ends_with(op))
        else {
            continue;
        };
        let left = trimmed[..trimmed.len() - operator.len()].trim_end();
        let start = left
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '"'))
            .map_or(0, |i| i + 1);
        let left = &left[start..];
        if !left.is_empty() {
            return Some((left.to_string(), operator.to_string()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_is_recognised_and_sql_is_not() {
        for python in [
            "import pandas as pd",
            "from pyspark.sql import SparkSession",
            "df = pd.read_csv('x.csv')",
            "df.head()",
            "print('hello')",
            "for row in rows:",
            "def f(x):",
        ] {
            assert!(python_statement(python).is_some(), "{python}");
        }
        for sql in [
            "SELECT 1",
            "FROM t SELECT a",
            "with t as (select 1) select * from t",
            "SET x = 1",
            "-- a comment\nSELCT 1",
        ] {
            assert!(python_statement(sql).is_none(), "{sql}");
        }
        assert_eq!(
            python_statement("import pandas").unwrap(),
            "This is a SQL kernel, and `import pandas` is Python: run Python in a notebook with the Python 3 kernel (File › New › Notebook), and share results with it through %export or S3."
        );
    }

    fn columns(names: &[&str]) -> Vec<Column> {
        names
            .iter()
            .map(|n| Column::new(Some("s3://demo/sensors/readings.parquet"), *n))
            .collect()
    }

    #[test]
    fn a_bare_word_compared_with_a_column_is_a_string_to_quote() {
        let valid = columns(&["site", "temperature_c"]);
        assert_eq!(
            missing_column(
                &Column::new_unqualified("tunnel"),
                &valid,
                "SELECT * FROM 's3://demo/sensors/readings.parquet' WHERE site = tunnel"
            ),
            "There is no column named tunnel: to compare site with the text 'tunnel', put it in single quotes: site = 'tunnel'."
        );
        // Not after a comparison: an ordinary unknown column.
        assert!(
            missing_column(
                &Column::new_unqualified("tunnel"),
                &valid,
                "SELECT tunnel FROM t"
            )
            .starts_with("There is no column named tunnel.")
        );
    }

    #[test]
    fn a_typo_names_the_column_as_written() {
        let valid = columns(&["site", "temperature_c", "humidity"]);
        assert_eq!(
            missing_column(
                &Column::new_unqualified("temprature_c"),
                &valid,
                "SELECT temprature_c FROM 's3://demo/sensors/readings.parquet'"
            ),
            "There is no column named temprature_c; did you mean temperature_c? The columns are site, temperature_c, humidity."
        );
        assert_eq!(
            missing_column(
                &Column::new_unqualified("site"),
                &columns(&["Site"]),
                "SELECT site FROM t"
            ),
            "There is no column named site; column names are case sensitive here: write \"Site\" in double quotes. The columns are Site."
        );
    }

    /// The real engine's errors, through the crate's one translation: an
    /// upgrade that changes DataFusion's error shapes fails here.
    #[tokio::test]
    async fn the_engine_s_own_errors_become_these_sentences() {
        use crate::engine::error::{ErrorContext, SqlError};
        use datafusion::prelude::SessionContext;

        let ctx = SessionContext::new();
        ctx.sql("CREATE TABLE readings AS SELECT 'north' AS site, 1.5 AS temperature_c")
            .await
            .unwrap();
        let ctx = &ctx;
        let explain = |statement: &'static str| async move {
            let err = match ctx.sql(statement).await {
                Ok(frame) => frame.collect().await.unwrap_err(),
                Err(err) => err,
            };
            let error_ctx = ErrorContext {
                statement,
                endpoint: String::new(),
                memory_words: String::new(),
            };
            SqlError::from_datafusion(&err, &error_ctx).message
        };
        assert_eq!(
            explain("import pandas as pd").await,
            "This is a SQL kernel, and `import pandas as pd` is Python: run Python in a notebook with the Python 3 kernel (File › New › Notebook), and share results with it through %export or S3."
        );
        assert_eq!(
            explain("SELECT * FROM readings WHERE site = tunnel").await,
            "There is no column named tunnel: to compare site with the text 'tunnel', put it in single quotes: site = 'tunnel'."
        );
        assert_eq!(
            explain("SELECT temprature_c FROM readings").await,
            "There is no column named temprature_c; did you mean temperature_c? The columns are site, temperature_c."
        );
        assert!(explain("SELEC 1").await.starts_with("Syntax error: "));
    }
}
