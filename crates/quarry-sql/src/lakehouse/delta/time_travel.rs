//! Time travel: `FROM t VERSION AS OF 3`, `FROM t TIMESTAMP AS OF '…'`.
//!
//! DataFusion's SQL dialect has no table versions, and the dialects that
//! parse them (Databricks, BigQuery) change much else. So the clause is
//! rewritten in the cell's tokens into the table function form
//! `delta_at('t', 3) AS t`, which every dialect parses; before a statement
//! is planned, each `delta_at(…)` is replaced by a table registered for
//! that statement only, pinned at that version ([`TimeTravel`]).
//!
//! ```text
//!  t VERSION AS OF 3 ──tokens──▶ delta_at('t', 3) AS t ──AST──▶ "quarry_delta_at_1" AS t
//!                                                                 (registered, then dropped)
//! ```

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::catalog::Session;
use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::session_state::SessionState;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{CopyToSource, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    Expr as SqlExpr, FunctionArg, FunctionArgExpr, Ident, ObjectName, TableFactor, Value, VisitMut,
    VisitorMut,
};
use datafusion::sql::sqlparser::keywords::{Keyword, RESERVED_FOR_TABLE_ALIAS};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Whitespace};

use super::{DeltaError, DeltaLocation, LiveDeltaTable, TableVersion};

/// The table function a time-travel clause is rewritten to.
pub(crate) const AT_FUNCTION: &str = "delta_at";

/// Rewrites each `ref VERSION AS OF n` / `ref TIMESTAMP AS OF 'moment'` in
/// `tokens` to `delta_at('ref', n) AS alias`; `None` when there is none
/// (the cell is then parsed from its text, unchanged).
pub(crate) fn rewrite_versions(tokens: &[TokenWithSpan]) -> Option<Vec<TokenWithSpan>> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut changed = false;
    let mut i = 0;
    while i < tokens.len() {
        if let Some((value, end)) = version_clause(tokens, i)
            && let Some(start) = reference_start(&out)
        {
            let reference: Vec<TokenWithSpan> = out.drain(start..).collect();
            let reference: Vec<&Token> = reference
                .iter()
                .map(|t| &t.token)
                .filter(|t| !matches!(t, Token::Whitespace(_)))
                .collect();
            let alias = (!alias_follows(tokens, end))
                .then(|| match reference.last() {
                    Some(Token::Word(word)) => Some(Token::Word(word.clone())),
                    _ => None,
                })
                .flatten();
            let mut call = vec![
                Token::make_word(AT_FUNCTION, None),
                Token::LParen,
                Token::SingleQuotedString(reference_text(&reference)),
                Token::Comma,
                Token::Whitespace(Whitespace::Space),
                value,
                Token::RParen,
            ];
            if let Some(alias) = alias {
                call.extend([
                    Token::Whitespace(Whitespace::Space),
                    Token::make_keyword("AS"),
                    Token::Whitespace(Whitespace::Space),
                    alias,
                ]);
            }
            out.extend(call.into_iter().map(TokenWithSpan::wrap));
            changed = true;
            i = end;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    changed.then_some(out)
}

/// The next non-whitespace token at or after `i`, and its index.
fn next_solid(tokens: &[TokenWithSpan], mut i: usize) -> Option<(usize, &Token)> {
    while let Some(t) = tokens.get(i) {
        if !matches!(t.token, Token::Whitespace(_)) {
            return Some((i, &t.token));
        }
        i += 1;
    }
    None
}

fn is_keyword(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// At `i`, ` VERSION AS OF <number>` or ` TIMESTAMP AS OF '<moment>'`:
/// the value token and the index after the clause.
fn version_clause(tokens: &[TokenWithSpan], i: usize) -> Option<(Token, usize)> {
    let (_, first) = (i, &tokens.get(i)?.token);
    let versioned = is_keyword(first, Keyword::VERSION);
    if !versioned && !is_keyword(first, Keyword::TIMESTAMP) {
        return None;
    }
    let (a, as_) = next_solid(tokens, i + 1)?;
    let (b, of) = next_solid(tokens, a + 1)?;
    if !is_keyword(as_, Keyword::AS) || !is_keyword(of, Keyword::OF) {
        return None;
    }
    let (c, value) = next_solid(tokens, b + 1)?;
    match value {
        Token::Number(..) if versioned => Some((value.clone(), c + 1)),
        Token::SingleQuotedString(_) if !versioned => Some((value.clone(), c + 1)),
        _ => None,
    }
}

/// Where the table reference before a clause begins in `out`: a quoted
/// URL, or `name` / `schema.name` (trailing whitespace included).
fn reference_start(out: &[TokenWithSpan]) -> Option<usize> {
    let mut i = out.len();
    while i > 0 && matches!(out[i - 1].token, Token::Whitespace(_)) {
        i -= 1;
    }
    match &out.get(i.checked_sub(1)?)?.token {
        Token::SingleQuotedString(_) => return Some(i - 1),
        Token::Word(w)
            if w.quote_style.is_some() || !RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword) => {}
        _ => return None,
    }
    let mut start = i - 1;
    while start >= 2
        && out[start - 1].token == Token::Period
        && matches!(out[start - 2].token, Token::Word(_))
    {
        start -= 2;
    }
    Some(start)
}

/// The reference as `delta_at` takes it: a URL as is, a name as written.
fn reference_text(reference: &[&Token]) -> String {
    match reference {
        [Token::SingleQuotedString(url)] => url.clone(),
        parts => parts.iter().map(|t| t.to_string()).collect(),
    }
}

/// Whether the user named an alias after the clause (`… AS OF 3 AS old`,
/// `… AS OF 3 old`).
fn alias_follows(tokens: &[TokenWithSpan], end: usize) -> bool {
    match next_solid(tokens, end) {
        Some((_, Token::Word(w))) => {
            w.keyword == Keyword::AS
                || w.quote_style.is_some()
                || !RESERVED_FOR_TABLE_ALIAS.contains(&w.keyword)
        }
        _ => false,
    }
}

/// The tables one statement's time travel registered; dropped with it.
pub(crate) struct TimeTravel {
    ctx: SessionContext,
    names: Vec<String>,
}

impl Drop for TimeTravel {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = self.ctx.deregister_table(name.as_str());
        }
    }
}

/// A `delta_at(…)` found in a statement, given its table's name.
struct Pinned {
    name: String,
    reference: String,
    version: TableVersion,
}

static PINNED: AtomicU64 = AtomicU64::new(0);

impl TimeTravel {
    /// Replaces each `delta_at(ref, version)` in `statement` with a table
    /// pinned at that version, registered in `ctx` until the returned guard
    /// is dropped.
    pub(crate) async fn prepare(
        ctx: &SessionContext,
        statement: &mut DFStatement,
    ) -> Result<TimeTravel, DataFusionError> {
        let mut finder = AtFinder::default();
        match statement {
            DFStatement::Statement(inner) => {
                let _ = inner.visit(&mut finder);
            }
            DFStatement::CopyTo(copy) => {
                if let CopyToSource::Query(query) = &mut copy.source {
                    let _ = query.visit(&mut finder);
                }
            }
            _ => {}
        }
        if let Some(e) = finder.error {
            return Err(e.into_datafusion());
        }
        let mut travel = TimeTravel {
            ctx: ctx.clone(),
            names: Vec::new(),
        };
        let state = ctx.state();
        for pinned in finder.found {
            let location = resolve(&state, &pinned.reference)
                .await
                .map_err(DeltaError::into_datafusion)?;
            let table = LiveDeltaTable::open(state.runtime_env(), location, pinned.version)
                .await
                .map_err(DeltaError::into_datafusion)?;
            ctx.register_table(pinned.name.as_str(), Arc::new(table))?;
            travel.names.push(pinned.name);
        }
        Ok(travel)
    }
}

/// Finds `delta_at(…)` table factors and renames them to pinned tables.
#[derive(Default)]
struct AtFinder {
    found: Vec<Pinned>,
    error: Option<DeltaError>,
}

impl VisitorMut for AtFinder {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        let TableFactor::Table { name, args, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let is_at = name.0.len() == 1
            && name.0[0]
                .as_ident()
                .is_some_and(|i| i.value.eq_ignore_ascii_case(AT_FUNCTION));
        let Some(call) = args.as_ref().filter(|_| is_at) else {
            return ControlFlow::Continue(());
        };
        match at_arguments(&call.args) {
            Ok((reference, version)) => {
                let pinned = format!(
                    "quarry_delta_at_{}",
                    PINNED.fetch_add(1, Ordering::Relaxed) + 1
                );
                *name = ObjectName::from(vec![Ident::with_quote('"', pinned.as_str())]);
                *args = None;
                self.found.push(Pinned {
                    name: pinned,
                    reference,
                    version,
                });
                ControlFlow::Continue(())
            }
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

/// `delta_at('table or folder', 3)` or `delta_at('…', '2026-12-01 10:00:00')`.
fn at_arguments(args: &[FunctionArg]) -> Result<(String, TableVersion), DeltaError> {
    let value = |arg: &FunctionArg| match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(SqlExpr::Value(v))) => Some(v.value.clone()),
        _ => None,
    };
    let bad = |expected| DeltaError::BadClause {
        clause: format!("{AT_FUNCTION}(…)"),
        expected,
    };
    let [reference, version] = args else {
        return Err(bad("a table (or folder) and a version number or time"));
    };
    let Some(Value::SingleQuotedString(reference)) = value(reference) else {
        return Err(bad("the table's name or folder in quotes first"));
    };
    let version = match value(version) {
        Some(Value::Number(n, _)) => TableVersion::Number(n.parse().map_err(|_| {
            DeltaError::BadClause {
                clause: format!("VERSION AS OF {n}"),
                expected: "a whole version number (0, 1, 2…)",
            }
        })?),
        Some(Value::SingleQuotedString(moment)) => {
            TableVersion::AsOf(parse_moment(&moment).ok_or(DeltaError::BadClause {
                clause: format!("TIMESTAMP AS OF '{moment}'"),
                expected: "a time such as '2026-12-01 10:30:00' (UTC) or '2026-12-01T10:30:00+01:00'",
            })?)
        }
        _ => return Err(bad("a version number or a time in quotes second")),
    };
    Ok((reference, version))
}

/// A moment as users write one: RFC 3339, or a date and time (UTC), or a
/// date (its midnight, UTC).
fn parse_moment(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(moment) = DateTime::parse_from_rfc3339(text) {
        return Some(moment.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

/// The Delta location `reference` names: a folder URL, or a table of the
/// session that is a Delta table (registered, or kept in the catalog).
pub(crate) async fn resolve(
    session: &dyn Session,
    reference: &str,
) -> Result<DeltaLocation, DeltaError> {
    if reference.contains("://") {
        return DeltaLocation::parse(reference);
    }
    let not_versioned = || DeltaError::NotVersioned {
        name: reference.to_string(),
    };
    let state = session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(not_versioned)?;
    let table_ref = TableReference::from(reference);
    let schema = state
        .schema_for_ref(table_ref.clone())
        .map_err(|_| not_versioned())?;
    let provider = schema
        .table(table_ref.table())
        .await
        .ok()
        .flatten()
        .ok_or_else(not_versioned)?;
    if let Some(live) = provider.downcast_ref::<LiveDeltaTable>() {
        return Ok(live.location().clone());
    }
    provider
        .get_table_definition()
        .and_then(crate::lakehouse::catalog::kept_delta_location)
        .map(|location| DeltaLocation::parse(&location))
        .ok_or_else(not_versioned)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::tokenizer::Tokenizer;

    fn rewritten(sql: &str) -> Option<String> {
        let tokens = Tokenizer::new(&GenericDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite_versions(&tokens).map(|tokens| tokens.iter().map(|t| t.token.to_string()).collect())
    }

    #[test]
    fn version_clauses_become_delta_at_calls() {
        assert_eq!(
            rewritten("SELECT * FROM t VERSION AS OF 1").as_deref(),
            Some("SELECT * FROM delta_at('t', 1) AS t")
        );
        assert_eq!(
            rewritten("SELECT * FROM lake.t TIMESTAMP AS OF '2026-12-01' old WHERE x").as_deref(),
            Some("SELECT * FROM delta_at('lake.t', '2026-12-01') old WHERE x")
        );
        assert_eq!(
            rewritten("SELECT * FROM 's3://b/t/' version as of 2 WHERE x > 1").as_deref(),
            Some("SELECT * FROM delta_at('s3://b/t/', 2) WHERE x > 1")
        );
        assert_eq!(
            rewritten("SELECT * FROM t VERSION AS OF 1 JOIN u ON t.a = u.a").as_deref(),
            Some("SELECT * FROM delta_at('t', 1) AS t JOIN u ON t.a = u.a")
        );
    }

    #[test]
    fn other_text_is_left_alone() {
        assert_eq!(rewritten("SELECT version, timestamp FROM t"), None);
        assert_eq!(rewritten("SELECT 'VERSION AS OF 1' FROM t"), None);
        assert_eq!(rewritten("SELECT CAST(x AS TIMESTAMP) AS of FROM t"), None);
    }

    #[test]
    fn moments_are_read_as_users_write_them() {
        let noon = "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(parse_moment("2026-12-01 12:00:00"), Some(noon));
        assert_eq!(parse_moment("2026-12-01T13:00:00+01:00"), Some(noon));
        assert_eq!(parse_moment("2026-12-01T12:00:00"), Some(noon));
        assert!(parse_moment("yesterday").is_none());
    }
}
