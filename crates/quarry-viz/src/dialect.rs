//! The few places where DataFusion's SQL and Spark's differ, for the
//! queries a chart writes.

/// Which engine a chart's SQL is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Apache DataFusion (SQL cells).
    DataFusion,
    /// Spark SQL (`%%spark` cells).
    Spark,
}

impl Dialect {
    /// `name` as an identifier, quoted so any column name works.
    pub(crate) fn quote(self, name: &str) -> String {
        match self {
            Dialect::DataFusion => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Spark => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// Approximate count of distinct values.
    pub(crate) fn approx_distinct(self, expr: &str) -> String {
        match self {
            Dialect::DataFusion => format!("approx_distinct({expr})"),
            Dialect::Spark => format!("approx_count_distinct({expr})"),
        }
    }

    /// Seconds since the Unix epoch of a timestamp, as a double.
    pub(crate) fn epoch_seconds(self, expr: &str) -> String {
        match self {
            Dialect::DataFusion => format!("CAST(date_part('epoch', {expr}) AS DOUBLE)"),
            Dialect::Spark => format!("CAST(unix_micros({expr}) AS DOUBLE) / 1000000.0"),
        }
    }
}

impl Dialect {
    /// An approximate percentile (`fraction` in 0–1) of a number.
    pub(crate) fn approx_percentile(self, expr: &str, fraction: f64) -> String {
        match self {
            Dialect::DataFusion => {
                format!("approx_percentile_cont({fraction}) WITHIN GROUP (ORDER BY {expr})")
            }
            Dialect::Spark => format!("percentile_approx({expr}, {fraction})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;

    #[test]
    fn quoting_survives_the_quote_character() {
        assert_eq!(Dialect::DataFusion.quote(r#"a "b""#), r#""a ""b""""#);
        assert_eq!(Dialect::Spark.quote("a`b"), "`a``b`");
    }
}
