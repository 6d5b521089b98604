//! Why a chart cannot be drawn, each in one sentence.

/// A chart that cannot be drawn as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChartError {
    /// The `%chart` line itself is malformed.
    #[error("{0}")]
    Usage(String),
    /// A named column is not in the result.
    #[error("The result has no column '{column}'; its columns are {available}.")]
    UnknownColumn {
        /// The name asked for.
        column: String,
        /// The result's columns, listed.
        available: String,
    },
    /// A column exists but cannot play the part asked of it.
    #[error(
        "{column} is {role}, so it cannot be {part} of a {kind} chart; columns that can: {candidates}."
    )]
    NotPlottable {
        /// The column.
        column: String,
        /// What the column holds ("text", "a number", …).
        role: String,
        /// The part asked of it ("x", "y", "the colour").
        part: String,
        /// The chart kind.
        kind: String,
        /// Columns that could play the part, or "none".
        candidates: String,
    },
    /// A colour or facet column has too many values to tell apart.
    #[error(
        "{column} has about {values} different values, too many for {part} (at most {limit}); pick a column with fewer values or filter the query."
    )]
    TooManyValues {
        /// The column.
        column: String,
        /// About how many values it has.
        values: u64,
        /// "colours", "facets".
        part: String,
        /// The most allowed.
        limit: u64,
    },
    /// Nothing in the result can be drawn.
    #[error("Nothing to chart: {0}.")]
    NothingToChart(String),
    /// The engine's answer did not have the expected shape (a bug).
    #[error("The chart query returned an unexpected result ({0}); this is a bug worth reporting.")]
    UnexpectedResult(String),
}
