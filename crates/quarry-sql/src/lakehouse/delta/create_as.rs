//! `CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION 's3://…/' AS
//! SELECT …`: a new Delta table holding a query's rows.
//!
//! DataFusion has no `CREATE EXTERNAL TABLE … AS`, so the statement is read
//! here ([`parse_create_as`], called from `crate::parse`) and carried as
//! sqlparser's external `CREATE TABLE … AS` (a shape DataFusion's own
//! parser never produces). Running it is three steps ([`CreateAs::steps`]):
//! version 0 with the query's columns, the table registered (and kept in
//! the catalog) like any Delta table, then one `INSERT INTO` commit.

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::helpers::stmt_create_table::CreateTableBuilder;
use datafusion::sql::sqlparser::ast::{ObjectName, Query, Statement};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::Token;

use super::{DELTA_FILE_TYPE, DeltaError, DeltaLocation, TimeTravel, create_version_zero};

/// The head of the statement, up to and including `AS`.
struct Head {
    or_replace: bool,
    if_not_exists: bool,
    name: ObjectName,
    location: String,
}

fn head(parser: &mut Parser) -> Result<Head, ParserError> {
    parser.expect_keyword(Keyword::CREATE)?;
    let or_replace = parser.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    parser.expect_keywords(&[Keyword::EXTERNAL, Keyword::TABLE])?;
    let if_not_exists = parser.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = parser.parse_object_name(false)?;
    parser.expect_keywords(&[Keyword::STORED, Keyword::AS])?;
    let format = parser.next_token();
    match &format.token {
        Token::Word(w) if w.value.eq_ignore_ascii_case(DELTA_FILE_TYPE) => {}
        _ => return parser.expected("DELTATABLE", format),
    }
    parser.expect_keyword(Keyword::LOCATION)?;
    let location = parser.parse_literal_string()?;
    parser.expect_keyword(Keyword::AS)?;
    Ok(Head {
        or_replace,
        if_not_exists,
        name,
        location,
    })
}

/// The statement, when the parser is at one; the parser is left where it
/// was otherwise. An error in the query itself is reported as such.
pub(crate) fn parse_create_as(parser: &mut Parser) -> Result<Option<DFStatement>, ParserError> {
    let Some(head) = parser.maybe_parse(head)? else {
        return Ok(None);
    };
    let query = parser.parse_query()?;
    let create = CreateTableBuilder::new(head.name)
        .or_replace(head.or_replace)
        .if_not_exists(head.if_not_exists)
        .external(true)
        .location(Some(head.location))
        .query(Some(query))
        .build();
    Ok(Some(DFStatement::Statement(Box::new(
        Statement::CreateTable(create),
    ))))
}

/// A parsed `CREATE EXTERNAL TABLE … STORED AS DELTATABLE … AS query`.
pub(crate) struct CreateAs {
    name: String,
    location: DeltaLocation,
    query: Box<Query>,
}

impl CreateAs {
    /// The statement, if `statement` is one.
    pub(crate) fn of(statement: &DFStatement) -> Option<Result<CreateAs>> {
        let DFStatement::Statement(inner) = statement else {
            return None;
        };
        let Statement::CreateTable(create) = inner.as_ref() else {
            return None;
        };
        let (true, Some(location), Some(query)) =
            (create.external, &create.location, &create.query)
        else {
            return None;
        };
        if create.or_replace || create.if_not_exists {
            return Some(Err(DataFusionError::Plan(
                "CREATE OR REPLACE and IF NOT EXISTS are not supported with AS SELECT for Delta tables: insert into an existing table with INSERT INTO".to_string(),
            )));
        }
        Some(
            DeltaLocation::parse(location)
                .map(|location| CreateAs {
                    name: create.name.to_string(),
                    location,
                    query: query.clone(),
                })
                .map_err(DeltaError::into_datafusion),
        )
    }

    /// The folder the table goes to.
    pub(crate) fn location(&self) -> &DeltaLocation {
        &self.location
    }

    /// The query whose rows fill it.
    pub(crate) fn query(&self) -> DFStatement {
        DFStatement::Statement(Box::new(Statement::Query(self.query.clone())))
    }

    /// After version 0 is written: the statements that register the table
    /// and fill it.
    pub(crate) fn steps(&self) -> [String; 2] {
        let url = self.location.url().replace('\'', "''");
        [
            format!(
                "CREATE EXTERNAL TABLE {} STORED AS {DELTA_FILE_TYPE} LOCATION '{url}'",
                self.name
            ),
            format!("INSERT INTO {} {}", self.name, self.query),
        ]
    }
}

impl crate::engine::SqlSession {
    /// Runs a `CREATE EXTERNAL TABLE … STORED AS DELTATABLE … AS query`:
    /// version 0 with the query's columns, the table registered, then the
    /// rows in one commit (the `INSERT`'s count is the statement's result).
    pub(crate) async fn create_delta_as(
        &self,
        create: CreateAs,
        progress: &crate::engine::CellProgress,
    ) -> Result<Option<crate::engine::StatementResult>> {
        let ctx = self.context();
        let runtime = ctx.runtime_env();
        if create.location().has_log(&runtime).await {
            return Err(DeltaError::AlreadyATable {
                url: create.location().url().to_string(),
            }
            .into_datafusion());
        }
        let mut query = create.query();
        let _pinned = TimeTravel::prepare(ctx, &mut query).await?;
        let plan = ctx.state().statement_to_plan(query).await?;
        create_version_zero(
            &runtime,
            create.location(),
            &create.name,
            plan.schema().as_arrow(),
            &[],
        )
        .await?;
        let mut result = None;
        for step in create.steps() {
            let statement = DFParser::parse_sql(&step)?
                .pop_front()
                .ok_or_else(|| DataFusionError::Internal(format!("no statement in {step}")))?;
            result = Box::pin(self.run_statement(statement, 1, false, progress)).await?;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    fn parsed(sql: &str) -> Option<DFStatement> {
        let dialect = GenericDialect {};
        let mut parser = Parser::new(&dialect).try_with_sql(sql).unwrap();
        parse_create_as(&mut parser).unwrap()
    }

    #[test]
    fn the_statement_is_read_with_its_query() {
        let statement = parsed(
            "CREATE EXTERNAL TABLE lake.t STORED AS DELTATABLE LOCATION 's3://b/t/' AS SELECT 1 AS x",
        )
        .unwrap();
        let create = CreateAs::of(&statement).unwrap().unwrap();
        assert_eq!(create.location().url(), "s3://b/t/");
        assert_eq!(
            create.steps(),
            [
                "CREATE EXTERNAL TABLE lake.t STORED AS DELTATABLE LOCATION 's3://b/t/'"
                    .to_string(),
                "INSERT INTO lake.t SELECT 1 AS x".to_string()
            ]
        );
    }

    #[test]
    fn other_statements_are_left_to_datafusion() {
        assert!(
            parsed("CREATE EXTERNAL TABLE t STORED AS DELTATABLE LOCATION 's3://b/t/'").is_none()
        );
        assert!(
            parsed("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/t/' AS SELECT 1")
                .is_none()
        );
        assert!(parsed("SELECT 1").is_none());
    }
}
