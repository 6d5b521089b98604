//! How deep a statement's expressions may nest before planning starts.
//!
//! DataFusion plans an expression tree in time that grows with the square of
//! its depth (type coercion asks every node for its type, and each answer
//! walks the subtree below it): measured here, a chain of `+ 1` terms took
//! 3.5 s at 2,000 terms, 14 s at 4,000, 59 s at 8,000 and six minutes at
//! 20,000 — and some of those walks recurse on the thread's stack. Depth
//! beyond a few thousand comes from generated SQL (long `OR` or `+` chains),
//! which has a better form, so such statements are refused before planning
//! with a sentence saying what to write instead.
//!
//! Nesting that the parser itself refuses (parentheses, subqueries and
//! function calls beyond `datafusion.sql_parser.recursion_limit`) is
//! explained here too.

use std::ops::ControlFlow;

use datafusion::sql::parser::{CopyToSource, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Expr, Visit, Visitor};

use crate::engine::error::{ErrorKind, SqlError};

/// The deepest expression nesting planned. 3,000 levels plan in a few
/// seconds on a small machine; every real query is far below.
pub const MAX_EXPRESSION_DEPTH: usize = 3_000;

/// Counts nesting on the way down and stops at the first expression past
/// the limit, so the walk itself never goes deeper than the limit.
struct Depth {
    current: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.current += 1;
        if self.current > MAX_EXPRESSION_DEPTH {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.current -= 1;
        ControlFlow::Continue(())
    }
}

fn too_deep(statement: &DfStatement) -> bool {
    let mut depth = Depth { current: 0 };
    match statement {
        DfStatement::Statement(inner) => inner.visit(&mut depth).is_break(),
        DfStatement::CopyTo(copy) => match &copy.source {
            CopyToSource::Query(query) => query.visit(&mut depth).is_break(),
            CopyToSource::Relation(_) => false,
        },
        DfStatement::Explain(explain) => too_deep(&explain.statement),
        _ => false,
    }
}

/// Refuses statements whose expressions nest deeper than
/// [`MAX_EXPRESSION_DEPTH`].
pub(crate) fn check_depth(statements: &[DfStatement]) -> Result<(), SqlError> {
    match statements.iter().position(too_deep) {
        None => Ok(()),
        Some(index) => {
            let which = if statements.len() > 1 {
                format!("Statement {} of this cell", index + 1)
            } else {
                "This statement".to_string()
            };
            Err(SqlError::new(
                ErrorKind::TooComplex,
                format!(
                    "{which} nests expressions more than {} levels deep (a chain of thousands of +, ||, AND or OR \
                     terms, or CASE inside CASE), which Quarry does not plan because planning time grows with the \
                     square of the depth: write long OR lists as IN (…), or compute the parts in a WITH clause.",
                    group(MAX_EXPRESSION_DEPTH)
                ),
            ))
        }
    }
}

/// The parser's own refusal of deep nesting, in words.
pub(crate) fn parser_recursion_limit(limit: usize) -> SqlError {
    SqlError::new(
        ErrorKind::TooComplex,
        format!(
            "This statement nests parentheses, subqueries or function calls more than {limit} levels deep, the SQL \
             parser's limit: flatten it (for example with a WITH clause) or raise the limit with \
             SET datafusion.sql_parser.recursion_limit = {}.",
            limit * 4
        ),
    )
}

fn group(n: usize) -> String {
    quarry_text::numbers::group_thousands(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn parse(sql: &str) -> Vec<DfStatement> {
        DFParser::parse_sql(sql).unwrap().into_iter().collect()
    }

    #[test]
    fn shallow_statements_pass_and_deep_ones_are_refused() {
        let fine = format!("SELECT {}", vec!["1"; 2_000].join(" + "));
        assert!(check_depth(&parse(&fine)).is_ok());
        let deep_sum = vec!["1"; MAX_EXPRESSION_DEPTH + 10].join(" + ");
        let deep = format!("SELECT {deep_sum}");
        let error = check_depth(&parse(&deep)).unwrap_err();
        assert_eq!(error.kind, ErrorKind::TooComplex);
        assert!(
            error
                .message
                .starts_with("This statement nests expressions more than 3,000 levels deep"),
            "{}",
            error.message
        );
        // Wide is not deep: a long IN list or many CASE branches are flat.
        let wide = format!(
            "SELECT 7 IN ({})",
            (0..20_000)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(check_depth(&parse(&wide)).is_ok());
        // The statement is named when the cell has several.
        let cell = format!("SELECT 1; COPY (SELECT {deep_sum}) TO 'x.csv'");
        let error = check_depth(&parse(&cell)).unwrap_err();
        assert!(
            error.message.starts_with("Statement 2 of this cell"),
            "{}",
            error.message
        );
    }
}
