//! A cell's text as statements: DataFusion's parser, with the few
//! statements Quarry adds.
//!
//! - `t VERSION AS OF n` / `t TIMESTAMP AS OF '…'` (Delta time travel) are
//!   rewritten in the tokens first, as `delta::time_travel` explains.
//! - `DESCRIBE HISTORY t` is read here, between DataFusion's statements,
//!   as the query `SELECT * FROM delta_history('t')`.
//!
//! Everything else is DataFusion's own parser, with the session's dialect
//! and recursion limit, and Quarry's depth check after it.

use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParser, DFParserBuilder, Statement};
use datafusion::sql::sqlparser::dialect::{Dialect, GenericDialect, dialect_from_str};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::engine::error::SqlError;
use crate::{engine::SqlSession, engine::limits};

impl SqlSession {
    /// The statements of `sql`, parsed and depth-checked.
    pub(crate) fn parse(&self, sql: &str) -> Result<Vec<Statement>, SqlError> {
        let state = self.context().state();
        let options = state.config().options();
        let dialect = dialect_from_str(options.sql_parser.dialect.as_ref())
            .unwrap_or_else(|| Box::new(GenericDialect {}));
        let recursion_limit = options.sql_parser.recursion_limit.get();
        let statements =
            parse_with(dialect.as_ref(), sql, recursion_limit).map_err(|e| match &e {
                DataFusionError::SQL(parser, _)
                    if matches!(**parser, ParserError::RecursionLimitExceeded) =>
                {
                    limits::parser_recursion_limit(recursion_limit)
                }
                _ => self.explain(&e, sql),
            })?;
        limits::check_depth(&statements)?;
        Ok(statements)
    }
}

fn parse_with(
    dialect: &dyn Dialect,
    sql: &str,
    recursion_limit: usize,
) -> Result<Vec<Statement>, DataFusionError> {
    let rewritten = Tokenizer::new(dialect, sql)
        .tokenize_with_location()
        .ok()
        .and_then(|tokens| crate::lakehouse::delta::rewrite_versions(&tokens));
    let builder = match rewritten {
        Some(tokens) => DFParserBuilder::new(tokens),
        None => DFParserBuilder::new(sql),
    };
    let mut parser = builder
        .with_dialect(dialect)
        .with_recursion_limit(recursion_limit)
        .build()?;
    statements(&mut parser)
}

/// DataFusion's `parse_statements`, reading `DESCRIBE HISTORY` too.
fn statements(parser: &mut DFParser) -> Result<Vec<Statement>, DataFusionError> {
    let mut statements = Vec::new();
    let mut expecting_delimiter = false;
    loop {
        while parser.parser.consume_token(&Token::SemiColon) {
            expecting_delimiter = false;
        }
        if parser.parser.peek_token() == Token::EOF {
            break;
        }
        if expecting_delimiter {
            let found = parser.parser.peek_token();
            return Err(DataFusionError::SQL(
                Box::new(ParserError::ParserError(format!(
                    "Expected: end of statement, found: {found}"
                ))),
                None,
            ));
        }
        let create_as = crate::lakehouse::delta::parse_create_as(&mut parser.parser)
            .map_err(|e| DataFusionError::SQL(Box::new(e), None))?;
        let statement = match create_as {
            Some(statement) => statement,
            None => match describe_history(parser)? {
                Some(statement) => statement,
                None => parser.parse_statement()?,
            },
        };
        statements.push(statement);
        expecting_delimiter = true;
    }
    Ok(statements)
}

/// `DESCRIBE HISTORY name` (or a quoted folder), as its query.
fn describe_history(parser: &mut DFParser) -> Result<Option<Statement>, DataFusionError> {
    let [describe, history, target] = parser.parser.peek_tokens::<3>();
    let is = |token: &Token, keyword| matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none());
    let names_a_table = matches!(target, Token::Word(_) | Token::SingleQuotedString(_));
    if !(is(&describe, Keyword::DESCRIBE) || is(&describe, Keyword::DESC))
        || !is(&history, Keyword::HISTORY)
        || !names_a_table
    {
        return Ok(None);
    }
    parser.parser.next_token();
    parser.parser.next_token();
    let table = match parser.parser.peek_token().token {
        Token::SingleQuotedString(url) => {
            parser.parser.next_token();
            url
        }
        _ => parser
            .parser
            .parse_object_name(false)
            .map_err(|e| DataFusionError::SQL(Box::new(e), None))?
            .to_string(),
    };
    let query = crate::lakehouse::delta::describe_history(&table);
    let mut parsed = DFParser::parse_sql(&query)?;
    Ok(parsed.pop_front())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(sql: &str) -> Vec<String> {
        parse_with(&GenericDialect {}, sql, 50)
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn describe_history_is_the_history_query() {
        assert_eq!(
            parsed("SELECT 1; DESCRIBE HISTORY lake.events; describe history 's3://b/t/'"),
            [
                "SELECT 1",
                "SELECT * FROM delta_history('lake.events')",
                "SELECT * FROM delta_history('s3://b/t/')"
            ]
        );
    }

    #[test]
    fn a_table_named_history_is_still_described() {
        assert_eq!(parsed("DESCRIBE history"), ["DESCRIBE history"]);
    }

    #[test]
    fn time_travel_parses_in_the_generic_dialect() {
        assert_eq!(
            parsed("SELECT count(*) FROM readings VERSION AS OF 1"),
            ["SELECT count(*) FROM delta_at('readings', 1) AS readings"]
        );
    }

    #[test]
    fn statements_still_need_delimiters() {
        assert!(parse_with(&GenericDialect {}, "SELECT 1 SELECT 2", 50).is_err());
    }
}
