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
        /// The arguments of `%chart` lines above `%%spark`: chart the result.
        chart: Option<&'a str>,
    },
    /// Any number of leading `%magic` lines (run first, in order), then
    /// SQL for DataFusion; either may be empty.
    Lines {
        /// The magic lines, trimmed.
        magics: Vec<&'a str>,
        /// The arguments of the first `%chart` line among them: chart the
        /// SQL's result (or, with no SQL, the last result) instead of
        /// showing its rows.
        chart: Option<&'a str>,
        /// The SQL after them.
        sql: &'a str,
    },
}

/// `%chart …` → the arguments; `None` for any other line.
fn chart_args(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("%chart")?;
    (rest.is_empty() || rest.starts_with(char::is_whitespace)).then(|| rest.trim())
}

impl<'a> Cell<'a> {
    pub(super) fn parse(code: &'a str) -> Self {
        let mut chart = None;
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
                    chart,
                };
            }
            if !trimmed.starts_with('%') {
                return Cell::Lines {
                    magics,
                    chart,
                    sql: trimmed,
                };
            }
            let (line, tail) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
            let line = line.trim_end();
            match chart_args(line) {
                Some(args) if chart.is_none() => chart = Some(args),
                // A second %chart is reported by the magic runner.
                _ => magics.push(line),
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
                chart: None,
                sql: "SELECT 1;\n%not a magic"
            }
        );
        assert_eq!(
            Cell::parse("SELECT 1"),
            Cell::Lines {
                magics: vec![],
                chart: None,
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
                chart: None,
            }
        );
        assert_eq!(
            Cell::parse("%%spark"),
            Cell::Spark {
                options: "",
                body: "",
                chart: None,
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
                chart: Some("bar x=a"),
                sql: "SELECT 1"
            }
        );
        assert_eq!(
            Cell::parse("%chart\n%chart line\n"),
            Cell::Lines {
                magics: vec!["%chart line"],
                chart: Some(""),
                sql: ""
            }
        );
        assert_eq!(
            Cell::parse("%chart hist\n%%spark\nSELECT 1"),
            Cell::Spark {
                options: "",
                body: "SELECT 1",
                chart: Some("hist"),
            }
        );
        // %charts is not %chart.
        assert!(matches!(
            Cell::parse("%charts\nSELECT 1"),
            Cell::Lines { chart: None, .. }
        ));
    }
}
