//! What a cell is, decided once: a `%%spark` cell, or line magics followed
//! by SQL, either of them charted by a `%chart` line. `execute` and
//! `is_complete` both start here.

/// A parsed cell.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cell<'a> {
    /// `%%spark [options]` on the first line; the rest is Spark SQL.
    Spark {
        /// The words after `%%spark`.
        options: &'a str,
        /// The Spark SQL below the first line.
        body: &'a str,
        /// A `%chart`, `%profile` or `%export` line above `%%spark`: present the
        /// Spark result that way.
        present: Option<&'a str>,
    },
    /// Any number of leading `%magic` lines (run first, in order), then
    /// SQL for DataFusion; either may be empty.
    Lines {
        /// The magic lines, trimmed.
        magics: Vec<&'a str>,
        /// The first `%chart`, `%profile` or `%export` line among them: present the
        /// SQL's result (or, with no SQL, the last result) that way
        /// instead of showing its rows.
        present: Option<&'a str>,
        /// The SQL after them.
        sql: &'a str,
    },
}

/// The magics that present the cell's result rather than run on their own.
pub(super) const PRESENTERS: [&str; 3] = ["%chart", "%profile", "%export"];

/// Whether `line` is a presenting magic (`%chart …`, `%profile …`).
fn is_presenter(line: &str) -> bool {
    PRESENTERS.iter().any(|magic| {
        line.strip_prefix(magic)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    })
}

impl<'a> Cell<'a> {
    pub(super) fn parse(code: &'a str) -> Self {
        let mut present = None;
        let mut magics = Vec::new();
        let mut rest = code;
        loop {
            let trimmed = rest.trim_start();
            if let Some(after) = trimmed.strip_prefix("%%spark")
                && (after.is_empty() || after.starts_with(char::is_whitespace))
                && magics.is_empty()
            {
                let (options, body) = after.split_once('\n').unwrap_or((after, ""));
                return Cell::Spark {
                    options: options.trim(),
                    body,
                    present,
                };
            }
            if !trimmed.starts_with('%') {
                return Cell::Lines {
                    magics,
                    present,
                    sql: trimmed,
                };
            }
            let (line, tail) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
            let line = line.trim_end();
            if is_presenter(line) && present.is_none() {
                present = Some(line);
            } else {
                // A second presenter is reported by the magic runner.
                magics.push(line);
            }
            rest = tail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cell;

    #[test]
    fn magics_lead_and_sql_follows() {
        assert_eq!(
            Cell::parse("%config max_rows 5\n  %echo hi\nSELECT 1;\n%not a magic"),
            Cell::Lines {
                magics: vec!["%config max_rows 5", "%echo hi"],
                present: None,
                sql: "SELECT 1;\n%not a magic"
            }
        );
        assert_eq!(
            Cell::parse("SELECT 1"),
            Cell::Lines {
                magics: vec![],
                present: None,
                sql: "SELECT 1"
            }
        );
    }

    #[test]
    fn a_spark_cell_is_its_first_line_and_the_rest() {
        assert_eq!(
            Cell::parse("  %%spark -o out\nSELECT 1\nFROM t"),
            Cell::Spark {
                options: "-o out",
                body: "SELECT 1\nFROM t",
                present: None,
            }
        );
        assert_eq!(
            Cell::parse("%%spark"),
            Cell::Spark {
                options: "",
                body: "",
                present: None,
            }
        );
        // Not %%spark: a (mistyped) magic line, reported by the magic runner.
        assert!(matches!(
            Cell::parse("%%sparky\nSELECT 1"),
            Cell::Lines { .. }
        ));
    }

    #[test]
    fn a_chart_line_charts_what_follows() {
        assert_eq!(
            Cell::parse("%chart bar x=a\n%config max_rows 5\nSELECT 1"),
            Cell::Lines {
                magics: vec!["%config max_rows 5"],
                present: Some("%chart bar x=a"),
                sql: "SELECT 1"
            }
        );
        assert_eq!(
            Cell::parse("%chart\n%profile\n"),
            Cell::Lines {
                magics: vec!["%profile"],
                present: Some("%chart"),
                sql: ""
            }
        );
        assert_eq!(
            Cell::parse("%chart hist\n%%spark\nSELECT 1"),
            Cell::Spark {
                options: "",
                body: "SELECT 1",
                present: Some("%chart hist"),
            }
        );
        // %charts is not %chart.
        assert!(matches!(
            Cell::parse("%charts\nSELECT 1"),
            Cell::Lines { present: None, .. }
        ));
    }
}
