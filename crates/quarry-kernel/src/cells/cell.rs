//! What a cell is, decided once: a `%%spark` cell, or line magics followed
//! by SQL. `execute` and `is_complete` both start here.

/// A parsed cell.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cell<'a> {
    /// `%%spark [options]` on the first line; the rest is Spark SQL.
    Spark {
        /// The words after `%%spark`.
        options: &'a str,
        /// The Spark SQL below the first line.
        body: &'a str,
    },
    /// Any number of leading `%magic` lines (run first, in order), then
    /// SQL for DataFusion; either may be empty.
    Lines {
        /// The magic lines, trimmed.
        magics: Vec<&'a str>,
        /// The SQL after them.
        sql: &'a str,
    },
}

impl<'a> Cell<'a> {
    pub(super) fn parse(code: &'a str) -> Self {
        let trimmed = code.trim_start();
        if let Some(rest) = trimmed.strip_prefix("%%spark")
            && (rest.is_empty() || rest.starts_with(char::is_whitespace))
        {
            let (options, body) = rest.split_once('\n').unwrap_or((rest, ""));
            return Cell::Spark {
                options: options.trim(),
                body,
            };
        }
        let mut magics = Vec::new();
        let mut rest = code;
        loop {
            let trimmed = rest.trim_start();
            if !trimmed.starts_with('%') {
                return Cell::Lines {
                    magics,
                    sql: trimmed,
                };
            }
            let (line, tail) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
            magics.push(line.trim_end());
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
                sql: "SELECT 1;\n%not a magic"
            }
        );
        assert_eq!(
            Cell::parse("SELECT 1"),
            Cell::Lines {
                magics: vec![],
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
                body: "SELECT 1\nFROM t"
            }
        );
        assert_eq!(
            Cell::parse("%%spark"),
            Cell::Spark {
                options: "",
                body: ""
            }
        );
        // Not %%spark: a (mistyped) magic line, reported by the magic runner.
        assert!(matches!(
            Cell::parse("%%sparky\nSELECT 1"),
            Cell::Lines { .. }
        ));
    }
}
