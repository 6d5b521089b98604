//! Whether a cell is ready to run (for `is_complete_request`).

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Whitespace};

/// The answer to "is this code ready to execute?", as a terminal console
/// asks before submitting on Enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completeness {
    /// The cell can run as it is.
    Complete,
    /// More input is expected: an open string, comment or parenthesis, or a
    /// statement not yet terminated by `;`.
    Incomplete,
    /// No amount of further input can fix it (e.g. an unmatched `)`).
    Invalid,
}

/// Classifies SQL the way psql does: a statement is complete once it ends in
/// `;` outside any string, comment or parenthesis. Magic lines (`%…`) are
/// always complete.
pub fn completeness(code: &str) -> Completeness {
    let trimmed = code.trim();
    if trimmed.is_empty() || trimmed.starts_with('%') {
        return Completeness::Complete;
    }
    let tokens = match Tokenizer::new(&GenericDialect {}, code).tokenize() {
        Ok(tokens) => tokens,
        // Unterminated strings, quoted identifiers and block comments all
        // fail to tokenise; more input can close them.
        Err(_) => return Completeness::Incomplete,
    };
    let mut depth: i64 = 0;
    let mut last_significant = None;
    for token in &tokens {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth < 0 {
                    return Completeness::Invalid;
                }
            }
            Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
            | Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => continue,
            _ => {}
        }
        last_significant = Some(token);
    }
    match (depth, last_significant) {
        (0, Some(Token::SemiColon)) => Completeness::Complete,
        _ => Completeness::Incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_statements_are_complete() {
        assert_eq!(completeness("SELECT 1;"), Completeness::Complete);
        assert_eq!(
            completeness("SELECT 1; SELECT 2;  -- done\n"),
            Completeness::Complete
        );
        assert_eq!(completeness("%s3 ls"), Completeness::Complete);
        assert_eq!(completeness("   "), Completeness::Complete);
    }

    #[test]
    fn open_constructs_are_incomplete() {
        assert_eq!(completeness("SELECT 1"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT 'abc"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT (1 + 2;"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT 1; /* still"), Completeness::Incomplete);
        assert_eq!(completeness("SELECT \"col"), Completeness::Incomplete);
    }

    #[test]
    fn unmatched_close_paren_is_invalid() {
        assert_eq!(completeness("SELECT 1);"), Completeness::Invalid);
    }
}
