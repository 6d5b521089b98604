//! What a `%%spark` cell's first line asks for (`-o NAME`, `-i TABLE`,
//! `--limit N`), how many rows that brings back, and what the cell says
//! when Spark had more.

use crate::protocol::ExecuteError;

/// How many rows of a `%%spark` result come to the kernel unless `-o` or
/// `--limit` says otherwise: Databricks' `display()` cap. A result is for
/// looking at; bringing all of a billion-row answer through the driver JVM
/// into the kernel would take both down (and the pod's other kernels).
pub(super) const DEFAULT_SPARK_ROWS: usize = 10_000;

/// `%%spark` options.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct CellOptions {
    pub(super) output: Option<String>,
    pub(super) inputs: Vec<String>,
    /// `--limit N`: bring at most N rows.
    pub(super) limit: Option<usize>,
}

impl CellOptions {
    /// The most rows to bring back: all for `-o` (the table is the point),
    /// unless `--limit` says; otherwise the display cap.
    pub(super) fn rows_wanted(&self) -> Option<usize> {
        match (self.limit, &self.output) {
            (Some(limit), _) => Some(limit),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_SPARK_ROWS),
        }
    }
}

pub(super) fn parse_cell_options(args: &[&str]) -> Result<CellOptions, ExecuteError> {
    let usage = |why: String| ExecuteError::new("SparkUsageError", why);
    let mut options = CellOptions::default();
    let mut words = args.iter();
    while let Some(flag) = words.next() {
        let mut name = || {
            words
                .next()
                .map(|w| w.to_string())
                .filter(|w| is_table_name(w))
                .ok_or_else(|| {
                    usage(format!(
                        "{flag} needs a table name (letters, digits, _), e.g. %%spark {flag} sales"
                    ))
                })
        };
        match *flag {
            "-o" | "--output" => options.output = Some(name()?),
            "-i" | "--input" => options.inputs.push(name()?),
            "--limit" => {
                let rows = words.next().and_then(|w| w.replace('_', "").parse().ok());
                options.limit = Some(rows.filter(|&n: &usize| n > 0).ok_or_else(|| {
                    usage("--limit needs a number of rows above 0, e.g. %%spark --limit 100".into())
                })?);
            }
            other => {
                return Err(usage(format!(
                    "Unknown %%spark option '{other}': use -o NAME to keep the result as a kernel table, -i TABLE to send a kernel table to Spark, --limit N to bring at most N rows."
                )));
            }
        }
    }
    Ok(options)
}

fn is_table_name(word: &str) -> bool {
    !word.is_empty()
        && !word.starts_with(|c: char| c.is_ascii_digit())
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Says that a result is Spark's first rows only, and how to get more.
pub(super) fn first_rows_note(rows: usize, options: &CellOptions) -> String {
    let rows = quarry_text::numbers::group_thousands(rows as u64);
    let how = if options.limit.is_some() {
        "raise --limit to bring more"
    } else {
        "add -o NAME to keep the whole result as a kernel table, or --limit N"
    };
    format!("Showing Spark's first {rows} rows: the query has more ({how}).")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_options() {
        assert_eq!(
            parse_cell_options(&["-o", "out", "-i", "a", "--input", "b"]).unwrap(),
            CellOptions {
                output: Some("out".into()),
                inputs: vec!["a".into(), "b".into()],
                limit: None,
            }
        );
        let limited = parse_cell_options(&["--limit", "1_000"]).unwrap();
        assert_eq!(limited.limit, Some(1000));
        assert_eq!(limited.rows_wanted(), Some(1000));
        assert!(parse_cell_options(&["--limit", "0"]).is_err());
        assert!(parse_cell_options(&["--limit", "lots"]).is_err());
        assert!(parse_cell_options(&["--limit"]).is_err());
        assert_eq!(parse_cell_options(&[]).unwrap(), CellOptions::default());
        // A plain result is capped; -o keeps all of it unless --limit says.
        assert_eq!(
            CellOptions::default().rows_wanted(),
            Some(DEFAULT_SPARK_ROWS)
        );
        let kept = parse_cell_options(&["-o", "out"]).unwrap();
        assert_eq!(kept.rows_wanted(), None);
        let kept_some = parse_cell_options(&["-o", "out", "--limit", "5"]).unwrap();
        assert_eq!(kept_some.rows_wanted(), Some(5));
        assert!(
            parse_cell_options(&["-o"])
                .unwrap_err()
                .evalue
                .contains("needs a table name")
        );
        assert!(parse_cell_options(&["-o", "1bad"]).is_err());
        assert!(
            parse_cell_options(&["-x"])
                .unwrap_err()
                .evalue
                .contains("Unknown %%spark option '-x'")
        );
    }

    #[test]
    fn the_note_says_how_to_get_more() {
        let plain = first_rows_note(10_000, &CellOptions::default());
        assert_eq!(
            plain,
            "Showing Spark's first 10,000 rows: the query has more (add -o NAME to keep the whole result as a kernel table, or --limit N)."
        );
        let limited = parse_cell_options(&["--limit", "5"]).unwrap();
        assert!(first_rows_note(5, &limited).contains("raise --limit"));
    }
}
